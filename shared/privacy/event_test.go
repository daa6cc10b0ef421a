package privacy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

func TestNewEvent(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	at := time.Date(2030, 1, 31, 3, 0, 0, 0, paris)
	got, err := privacy.NewEvent("evt-1", privacy.EventNotice, "acme", "request/r-1", at,
		privacy.NoticeData{RequestID: "r-1", Notice: privacy.NoticeApproved})
	if err != nil {
		t.Fatal(err)
	}
	want := privacy.Event{
		SpecVersion:     "1.0",
		ID:              "evt-1",
		Source:          "/privops",
		Type:            "io.privops.dsr.notice.v1",
		Time:            time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC),
		Subject:         "request/r-1",
		DataContentType: "application/json",
		TenantID:        "acme",
		Data:            json.RawMessage(`{"requestId":"r-1","notice":"approved"}`),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewEvent (-want +got):\n%s", diff)
	}
	if got.Time.Location() != time.UTC {
		t.Errorf("Time location = %s, want UTC", got.Time.Location())
	}
}

func TestNewEventUnmarshalableData(t *testing.T) {
	t.Parallel()
	if _, err := privacy.NewEvent("evt-1", privacy.EventNotice, "acme", "", time.Time{}, make(chan int)); err == nil {
		t.Error("NewEvent with a channel as data: error = nil, want one")
	}
}

func TestDecodeEventRoundTrip(t *testing.T) {
	t.Parallel()
	sent, err := privacy.NewEvent("evt-1", privacy.EventNotice, "acme", "request/r-1",
		time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC), privacy.NoticeData{RequestID: "r-1", Notice: privacy.NoticeDenied})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	got, err := privacy.DecodeEvent(body)
	if err != nil {
		t.Fatalf("DecodeEvent: %v", err)
	}
	if diff := cmp.Diff(sent, got); diff != "" {
		t.Errorf("round trip (-sent +decoded):\n%s", diff)
	}
	var data privacy.NoticeData
	if err := json.Unmarshal(got.Data, &data); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(privacy.NoticeData{RequestID: "r-1", Notice: "denied"}, data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
}

func TestDecodeEventRecordedEnvelope(t *testing.T) {
	t.Parallel()
	// A CloudEvents 1.0 envelope as another service would send it: optional
	// attributes absent, an unknown extension present, the distributed-tracing
	// extension decoded.
	body := `{"specversion":"1.0","id":"A234-1234-1234","source":"/crm","type":"com.example.customer.erased.v1",
		"time":"2030-01-31T03:00:00+01:00","tenantid":"acme","comexampleext":"x",
		"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"congo=t61rcWkgMzE",
		"data":{"requestId":"r-1"}}`
	got, err := privacy.DecodeEvent([]byte(body))
	if err != nil {
		t.Fatalf("DecodeEvent: %v", err)
	}
	want := privacy.Event{SpecVersion: "1.0", ID: "A234-1234-1234", Source: "/crm", Type: "com.example.customer.erased.v1",
		Time: time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC), TenantID: "acme", Data: json.RawMessage(`{"requestId":"r-1"}`),
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TraceState: "congo=t61rcWkgMzE"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeEvent (-want +got):\n%s", diff)
	}
}

func TestDecodeEventMalformed(t *testing.T) {
	t.Parallel()
	// valid returns a complete envelope as a map, so each case removes or changes one attribute.
	valid := func() map[string]any {
		return map[string]any{"specversion": "1.0", "id": "evt-1", "source": "/privops",
			"type": privacy.EventNotice, "time": "2030-01-31T02:00:00Z", "tenantid": "acme",
			"data": map[string]string{"requestId": "r-1", "notice": "approved"}}
	}
	without := func(key string) map[string]any { m := valid(); delete(m, key); return m }
	with := func(key string, v any) map[string]any { m := valid(); m[key] = v; return m }
	cases := []struct {
		name string
		body any // string: the raw body; otherwise marshalled
	}{
		{"not JSON", "specversion=1.0"},
		{"truncated", `{"specversion":"1.0","id":"evt-1"`},
		{"empty body", ""},
		{"JSON null", "null"},
		{"a JSON array", `[{"specversion":"1.0"}]`},
		{"a JSON string", `"1.0"`},
		{"empty object", "{}"},
		{"missing id", without("id")},
		{"missing type", without("type")},
		{"missing source", without("source")},
		{"missing tenantid", without("tenantid")},
		{"missing specversion", without("specversion")},
		{"empty id", with("id", "")},
		{"empty tenantid", with("tenantid", "")},
		{"specversion 0.3", with("specversion", "0.3")},
		{"specversion 1.0.0", with("specversion", "1.0.0")},
		{"specversion as a number", with("specversion", 1.0)},
		{"id as a number", with("id", 42)},
		{"time not RFC 3339", with("time", "31/01/2030")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body, ok := tc.body.(string)
			if !ok {
				b, err := json.Marshal(tc.body)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			got, err := privacy.DecodeEvent([]byte(body))
			e, ok := privacy.AsError(err)
			if !ok {
				t.Fatalf("DecodeEvent error = %v, want a *privacy.Error", err)
			}
			if diff := cmp.Diff(privacy.Error{Kind: privacy.KindInvalid, Code: "malformed-event"}, *e,
				cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Message" }, cmp.Ignore())); diff != "" {
				t.Errorf("DecodeEvent error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(privacy.Event{}, got); diff != "" {
				t.Errorf("DecodeEvent returned a partial event (-want +got):\n%s", diff)
			}
		})
	}
}
