package builtin_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/builtin"
	"github.com/privops/privops/shared/privacy"
)

type published struct{ msgs []privacy.OutMessage }

func (p *published) Publish(_ context.Context, _ string, msgs ...privacy.OutMessage) error {
	p.msgs = append(p.msgs, msgs...)
	return nil
}

// A task sent to a Service Bus service again (no answer within
// TASK_CALLBACK_TIMEOUT, or an admin's retry round) is a new queue message,
// so the service queue's duplicate detection cannot drop it, and the same
// CloudEvent, so the service recognises the task it may have done already.
func TestQueueNamesEachCallsMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt, round int
		wantMessageID  string
	}{
		{1, 0, "tsk_1.erase"},
		{1, 0, "tsk_1.erase"}, // the same call published twice: the queue drops the copy
		{2, 0, "tsk_1.erase#2"},
		{3, 0, "tsk_1.erase#3"},
		{1, 1, "tsk_1.erase#1.r1"},
		{2, 1, "tsk_1.erase#2.r1"},
	}
	p := &published{}
	q := builtin.Queue{Publisher: p, Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}
	svc := &privacy.Service{ID: "hr", Kind: privacy.KindServiceBus, Queue: "hr-tasks"}
	var want, got []string
	for _, tt := range tests {
		res, err := q.Run(context.Background(), svc, privacy.ConnectorCall{TenantID: "acme", RequestID: "dsr_1", TaskID: "tsk_1",
			Action: privacy.ActionErase, Attempt: tt.attempt, Round: tt.round})
		if err != nil || res.Outcome != privacy.OutcomeAccepted {
			t.Fatalf("run: %v, %v", res, err)
		}
		want = append(want, tt.wantMessageID+" event tsk_1.erase")
	}
	for _, m := range p.msgs {
		var ev struct{ ID string }
		if err := json.Unmarshal(m.Body, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, m.ID+" event "+ev.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("message and event ids (-want +got):\n%s", diff)
	}
}
