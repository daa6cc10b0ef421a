package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// fake records which operation a message reached and answers with err.
type fake struct {
	got []string
	err error
}

func (f *fake) RunTask(_ context.Context, ev privacy.Event, d privacy.TaskData, n int) error {
	f.got = append(f.got, fmt.Sprintf("run %s %s %s %d", ev.TenantID, d.RequestID, d.TaskID, n))
	return f.err
}

func (f *fake) BuildPackage(_ context.Context, ev privacy.Event, d privacy.TaskData) error {
	f.got = append(f.got, fmt.Sprintf("package %s %s", ev.TenantID, d.RequestID))
	return f.err
}

func event(typ, data string) []byte {
	return []byte(`{"specversion":"1.0","id":"m1","source":"/privops","type":"` + typ + `","tenantid":"acme","data":` + data + `}`)
}

func TestQueueFunction(t *testing.T) {
	t.Parallel()
	transient := fmt.Errorf("store: %w", privacy.ErrUnavailable)
	cases := []struct {
		name   string
		body   []byte
		err    error
		want   []string
		reject string // the dead-letter reason, or "" for none
		retry  bool   // the error is returned for redelivery
	}{
		{"task run", event(privacy.EventTaskRun, `{"requestId":"r1","taskId":"t1"}`), nil, []string{"run acme r1 t1 2"}, "", false},
		{"package", event(privacy.EventPackage, `{"requestId":"r1"}`), nil, []string{"package acme r1"}, "", false},
		{"not JSON", []byte("garbage"), nil, nil, "malformed-event", false},
		{"no tenant", []byte(`{"specversion":"1.0","id":"m1","source":"/x","type":"` + privacy.EventTaskRun + `","data":{}}`), nil, nil, "malformed-event", false},
		{"no request id", event(privacy.EventTaskRun, `{"taskId":"t1"}`), nil, nil, "malformed-data", false},
		{"task run without task id", event(privacy.EventTaskRun, `{"requestId":"r1"}`), nil, nil, "malformed-data", false},
		{"unknown type", event("io.example.other", `{"requestId":"r1"}`), nil, nil, "unknown-type", false},
		{"unknown request (permanent)", event(privacy.EventTaskRun, `{"requestId":"r1","taskId":"t1"}`),
			fmt.Errorf("%w: unknown request", dsr.ErrPermanent), []string{"run acme r1 t1 2"}, "permanent failure: unknown request", false},
		{"store down (transient)", event(privacy.EventTaskRun, `{"requestId":"r1","taskId":"t1"}`), transient, []string{"run acme r1 t1 2"}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{err: c.err}
			err := New(Deps{Service: f, Logger: slog.New(slog.DiscardHandler)})(t.Context(), trigger.Message{ID: "m1", Body: c.body, DeliveryCount: 2})
			if diff := cmp.Diff(c.want, f.got); diff != "" {
				t.Errorf("service calls (-want +got):\n%s", diff)
			}
			var rej *trigger.Rejection
			switch {
			case c.reject != "":
				if !errors.As(err, &rej) || len(rej.Reason) < len(c.reject) || rej.Reason[:len(c.reject)] != c.reject {
					t.Errorf("error %v, want a rejection starting %q", err, c.reject)
				}
			case c.retry:
				if err == nil || errors.As(err, &rej) {
					t.Errorf("error %v, want the transient error returned for redelivery", err)
				}
			case err != nil:
				t.Errorf("error %v, want nil", err)
			}
		})
	}
}
