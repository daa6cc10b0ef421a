package breach_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breach"
)

func TestBouncedPrimaryEscalatesToSecondary(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"))
	f.mail.bounce["sec@acme.example"] = true
	d := declaration()
	d.Tenants = []string{"acme"}
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := f.svc.Notice(t.Context(), "acme", inc.ID)
	var statuses []string
	for _, dl := range n.Deliveries {
		statuses = append(statuses, dl.Role+":"+dl.Status)
	}
	if diff := cmp.Diff([]string{"primary:bounced", "secondary:sent"}, statuses); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if !slices.ContainsFunc(n.Escalations, func(e breach.Escalation) bool { return e.Level == breach.ReasonBounce }) {
		t.Errorf("the bounce was not recorded as an escalation: %v", n.Escalations)
	}
	if diff := cmp.Diff(map[string]int{"ciso@acme.example": 1}, f.mail.to()); diff != "" {
		t.Errorf("mails (-want +got):\n%s", diff)
	}
}

func TestTransientMailFailureIsFinishedByTheWatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"))
	f.mail.down = true
	d := declaration()
	d.Tenants = []string{"acme"}
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	f.mail.down = false
	f.clock.add(2 * time.Minute) // past the outbox lease
	if _, err := f.svc.Watch(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Watch(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	n, _ := f.svc.Notice(t.Context(), "acme", inc.ID)
	if n.NotifiedAt.IsZero() || len(n.Pending) != 0 || f.mail.sends != 1 {
		t.Errorf("notified %v, pending %d, mails %d", n.NotifiedAt, len(n.Pending), f.mail.sends)
	}
}

// TestWatchEscalatesAsClocksRun: the SLA (24 h from the processor's
// awareness) and GDPR (72 h from the notice) clocks escalate at half,
// three quarters and the end, each once; a watch that first runs long after
// a clock ended (the process was down) takes every missed step at once; an
// acknowledgement stops escalation.
func TestWatchEscalatesAsClocksRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"))
	d := declaration()
	d.Tenants = []string{"acme"}
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	levels := func() []string {
		n, _ := f.svc.Notice(t.Context(), "acme", inc.ID)
		var out []string
		for _, e := range n.Escalations {
			out = append(out, e.Clock+"/"+e.Level)
		}
		return out
	}
	// The SLA clock is met (the notice went out at once); GDPR runs 72 h
	// from t0. Half run: 36 h.
	f.clock.add(37 * time.Hour)
	if _, err := f.svc.Watch(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"eu-gdpr-authority/reminder"}, levels()); diff != "" {
		t.Errorf("after 37 h (-want +got):\n%s", diff)
	}
	// Down for days: the clock ended meanwhile; one run takes the missed steps.
	f.clock.add(5 * 24 * time.Hour)
	if _, err := f.svc.Watch(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Watch(t.Context(), 100); err != nil {
		t.Fatal(err)
	}
	want := []string{"eu-gdpr-authority/reminder", "eu-gdpr-authority/escalation", "eu-gdpr-authority/overdue"}
	if diff := cmp.Diff(want, levels()); diff != "" {
		t.Errorf("after the restart (-want +got):\n%s", diff)
	}
	// Primary: notice, reminder, overdue; secondary: escalation, overdue.
	if diff := cmp.Diff(map[string]int{"sec@acme.example": 3, "ciso@acme.example": 2}, f.mail.to()); diff != "" {
		t.Errorf("mails (-want +got):\n%s", diff)
	}
	n, err := f.svc.Acknowledge(t.Context(), "acme", inc.ID, 0, "admin:alice")
	if err != nil {
		t.Fatal(err)
	}
	if n.AcknowledgedAt.IsZero() || !n.AttentionAt.IsZero() {
		t.Errorf("acknowledged %v, attention %v", n.AcknowledgedAt, n.AttentionAt)
	}
}

// hook records webhook posts; fail makes it answer an error.
type hook struct {
	mu    sync.Mutex
	posts []string
	fail  bool
}

func (h *hook) Post(_ context.Context, url string, secret, body []byte, _ bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail {
		return errors.New("breach webhook: answered 503")
	}
	h.posts = append(h.posts, url+" "+string(secret)+" "+string(body))
	return nil
}

// TestWebhookChannel: a tenant with a breach webhook gets the notice posted
// beside the mail, signed with its secret; a failing webhook is recorded as
// failed and does not hold up the mail.
func TestWebhookChannel(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("fail=", fail), func(t *testing.T) {
			t.Parallel()
			acme := tenantWith("acme", "en", "db")
			acme.Breach.WebhookURL, acme.Breach.WebhookSecret = "https://hooks.acme.example/b", "0123456789abcdef"
			f := newFixture(t, acme)
			h := &hook{fail: fail}
			svc, err := breach.New(breach.Config{PublicURL: "https://privops.example", AckKey: []byte("0123456789abcdef0123")},
				breach.Deps{Store: f.store, Tenants: f.store, Audit: f.store, Mailer: f.mail, Hook: h, Now: f.clock.now})
			if err != nil {
				t.Fatal(err)
			}
			d := declaration()
			d.Tenants = []string{"acme"}
			inc, _, err := svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
			if err != nil {
				t.Fatal(err)
			}
			n, _ := svc.Notice(t.Context(), "acme", inc.ID)
			var got []string
			for _, dl := range n.Deliveries {
				got = append(got, dl.Channel+":"+dl.Status)
			}
			want := []string{"mail:sent", "webhook:sent"}
			if fail {
				want = []string{"mail:sent", "webhook:failed"}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			if !fail && (len(h.posts) != 1 || !strings.Contains(h.posts[0], `"incidentId":"`+inc.ID) ||
				!strings.Contains(h.posts[0], "0123456789abcdef") || !strings.Contains(h.posts[0], `"ackUrl":"https://privops.example/api/breach/ack/acme/`)) {
				t.Errorf("webhook posts: %v", h.posts)
			}
		})
	}
}
