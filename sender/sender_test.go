package sender_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/sender"
)

// These tests use the standard library only, like the package, so an
// integrator who vendors it can run them.

var (
	now = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	key = sender.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
)

func erase() sender.DSRRequested {
	return sender.DSRRequested{Type: sender.RequestErase, Subject: sender.Subject{Email: "ada@example.com", Country: "DE"}}
}

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// printf '1900000000.{"taskId":"t1"}' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
	got := sender.Sign(key, []byte(`{"taskId":"t1"}`), time.Unix(1900000000, 0))
	want := "t=1900000000,k=k1,v1=b864ecc261c227bcaa8a3ca43347bc832ec649380cb6f652560927c598efe895"
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := sender.NewID()
		if !uuid4.MatchString(id) {
			t.Fatalf("NewID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestConstructorsRefuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		new  func() (*sender.Event, error)
	}{
		{"unknown request type", func() (*sender.Event, error) {
			d := erase()
			d.Type = "forget"
			return sender.NewDSRRequested("acme", "/hr", d)
		}},
		{"no email", func() (*sender.Event, error) {
			d := erase()
			d.Subject.Email = ""
			return sender.NewDSRRequested("acme", "/hr", d)
		}},
		{"no country", func() (*sender.Event, error) {
			d := erase()
			d.Subject.Country = ""
			return sender.NewDSRRequested("acme", "/hr", d)
		}},
		{"rectify without changes", func() (*sender.Event, error) {
			d := erase()
			d.Type = sender.RequestRectify
			return sender.NewDSRRequested("acme", "/hr", d)
		}},
		{"unknown category", func() (*sender.Event, error) {
			d := erase()
			d.Categories = []string{"secrets"}
			return sender.NewDSRRequested("acme", "/hr", d)
		}},
		{"bad tenant id", func() (*sender.Event, error) { return sender.NewDSRRequested("Acme", "/hr", erase()) }},
		{"no source", func() (*sender.Event, error) { return sender.NewDSRRequested("acme", "", erase()) }},
		{"completed without task", func() (*sender.Event, error) {
			return sender.NewTaskCompleted("acme", "/crm", sender.TaskCompleted{RequestID: "dsr_1", Outcome: sender.OutcomeDone})
		}},
		{"completed with unknown outcome", func() (*sender.Event, error) {
			return sender.NewTaskCompleted("acme", "/crm", sender.TaskCompleted{RequestID: "dsr_1", TaskID: "t", Outcome: "ok"})
		}},
		{"held without reason", func() (*sender.Event, error) {
			return sender.NewTaskCompleted("acme", "/crm", sender.TaskCompleted{RequestID: "dsr_1", TaskID: "t", Outcome: sender.OutcomeHeld})
		}},
		{"failed without reason", func() (*sender.Event, error) {
			return sender.NewTaskFailed("acme", "/crm", sender.TaskFailed{RequestID: "dsr_1", TaskID: "t"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := tt.new()
			if err == nil {
				t.Fatalf("got event %+v, want an error", e)
			}
			if !strings.HasPrefix(err.Error(), "sender: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
		})
	}
}

func TestTaskEventsNameTheRequest(t *testing.T) {
	t.Parallel()
	c, err := sender.NewTaskCompleted("acme", "/crm", sender.TaskCompleted{RequestID: "dsr_1", TaskID: "dsr_1.crm.erase", Outcome: sender.OutcomeDone, Items: 3})
	if err != nil {
		t.Fatal(err)
	}
	f, err := sender.NewTaskFailed("acme", "/crm", sender.TaskFailed{RequestID: "dsr_1", TaskID: "dsr_1.crm.erase", Reason: "account locked", Permanent: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*sender.Event{c, f} {
		if e.Subject != "dsr_1" {
			t.Errorf("%s: subject = %q, want the request id", e.Type, e.Subject)
		}
	}
	if got, want := string(f.Data), `{"requestId":"dsr_1","taskId":"dsr_1.crm.erase","reason":"account locked","permanent":true}`; got != want {
		t.Errorf("failed data = %s, want %s", got, want)
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	e, err := sender.NewDSRRequested("acme", "/hr", erase())
	if err != nil {
		t.Fatal(err)
	}
	before := *e
	m, err := e.Message(key, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.ContentType != sender.ContentType || m.MessageID != e.ID {
		t.Errorf("content type %q, message id %q; want %q and the event id %q", m.ContentType, m.MessageID, sender.ContentType, e.ID)
	}
	if got, want := m.Properties[sender.SignatureProperty], sender.Sign(key, m.Body, now); got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
	var got map[string]any
	if err := json.Unmarshal(m.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got["time"] != "2030-01-31T02:00:00Z" {
		t.Errorf("time = %v, want now when the event has none", got["time"])
	}
	if !e.Time.IsZero() || e.ID != before.ID {
		t.Errorf("Message changed the event: %+v", e)
	}
	again, err := e.Message(key, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if again.MessageID != m.MessageID {
		t.Errorf("a resend has message id %q, want %q", again.MessageID, m.MessageID)
	}

	e.Time = time.Date(2030, 1, 31, 3, 0, 0, 0, time.FixedZone("CET", 3600))
	m, err = e.Message(key, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Body), `"time":"2030-01-31T02:00:00Z"`) {
		t.Errorf("body %s: want the event's own time in UTC", m.Body)
	}
}

func TestMessageRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		key    sender.Key
		change func(*sender.Event)
	}{
		{"short secret", sender.Key{ID: "k1", Secret: []byte("short")}, nil},
		{"key id with upper case", sender.Key{ID: "K1", Secret: key.Secret}, nil},
		{"empty key id", sender.Key{Secret: key.Secret}, nil},
		{"id with a space", key, func(e *sender.Event) { e.ID = "a b" }},
		{"id too long", key, func(e *sender.Event) { e.ID = strings.Repeat("a", 129) }},
		{"subject too long", key, func(e *sender.Event) { e.Subject = strings.Repeat("a", 129) }},
		{"unknown type", key, func(e *sender.Event) { e.Type = "com.privops.dsr.requested.v2" }},
		{"data not an object", key, func(e *sender.Event) { e.Data = []byte(`[]`) }},
		{"too large", key, func(e *sender.Event) {
			e.Data = []byte(`{"details":"` + strings.Repeat("x", sender.MaxBodyBytes) + `"}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := sender.NewDSRRequested("acme", "/hr", erase())
			if err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(e)
			}
			if m, err := e.Message(tt.key, now); err == nil {
				t.Errorf("got message %s, want an error", m.Body)
			}
		})
	}
}
