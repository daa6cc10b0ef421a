package cosmos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// The hot paths, measured: the recorder counts every HTTP call the SDK makes
// while the real dsr service (on this store, an in-memory queue and a mailbox)
// runs a request's life, and the test asserts the counts by kind and container.
// What is counted: each HTTP round trip to Cosmos, retries included; the
// account and container metadata reads the SDK makes once per client and
// caches are not (none happens on these paths after the first call).
//
// Intake's writes apart from the audit chain are two: the request is created
// with its outbox, and the outbox is cleared once carried out. The audit append
// is the chain's head protocol (see audit.go): 2 point reads and 2 writes.

// mailbox records mails.
type mailbox struct {
	mu   sync.Mutex
	sent []privacy.Mail
}

func (m *mailbox) Send(_ context.Context, mail privacy.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, mail)
	return nil
}

var codeRe = regexp.MustCompile(`Your code is (\d{6})`)

func (m *mailbox) lastCode(tb testing.TB) string {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if c := codeRe.FindStringSubmatch(m.sent[i].Text); c != nil {
			return c[1]
		}
	}
	tb.Fatal("no code mail")
	return ""
}

// newService wires the dsr service to s, with notices published to queue.
func newService(tb testing.TB, s *Store, queue *inmem.Queue, mail *mailbox) *dsr.Service {
	tb.Helper()
	svc, err := dsr.New(dsr.Config{NoticesQueue: "notices", CodeTTL: 15 * time.Minute, MaxAttempts: 5},
		dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: s, Publisher: queue, Mailer: mail, Now: time.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// deliverNotice does what the notify function does with the next notice on
// the queue: decode it and have the service mail and record it.
func deliverNotice(t *testing.T, svc *dsr.Service, queue *inmem.Queue) {
	t.Helper()
	d, err := queue.Receive(t.Context(), "notices", time.Minute)
	if err != nil || d == nil {
		t.Fatalf("receive notice: %v, %v", d, err)
	}
	ev, err := privacy.DecodeEvent(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	var data privacy.NoticeData
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if err := svc.SendNotice(t.Context(), ev, data); err != nil {
		t.Fatal(err)
	}
	if err := queue.Complete(t.Context(), d); err != nil {
		t.Fatal(err)
	}
}

// newTenant creates a tenant whose audit chain already has an event, so the
// flows below see the steady state of the head protocol.
func newTenant(tb testing.TB, s *Store) *privacy.Tenant {
	tb.Helper()
	t := &privacy.Tenant{ID: "hp-" + randomID(tb), Name: "Hot Path GmbH", Regimes: []string{privacy.RegimeEUGDPR},
		TimeZone: "Europe/Berlin", PIPLDays: 30, DefaultDays: 30}
	if err := s.CreateTenant(tb.Context(), t); err != nil {
		tb.Fatal(err)
	}
	e := &privacy.AuditEvent{ID: "aud-created", TenantID: t.ID, At: time.Now().UTC(), Actor: "system",
		Action: "tenant.created", Target: "tenant/" + t.ID}
	if err := s.AppendAudit(tb.Context(), e); err != nil {
		tb.Fatal(err)
	}
	return t
}

// tally counts calls as "kind container".
func tally(calls []call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[c.Kind+" "+c.Container]++
	}
	return out
}

// auditAppend is what one steady-state audit append costs.
var auditAppend = map[string]int{"point-read audit": 2, "create audit": 1, "replace audit": 1}

func plus(ms ...map[string]int) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

func TestHotPathRoundTrips(t *testing.T) {
	t.Parallel()
	s, rec := newTestStore(t)
	ctx := t.Context()
	mail, queue := &mailbox{}, inmem.NewQueue(inmem.QueueOptions{})
	svc := newService(t, s, queue, mail)
	tenant := newTenant(t, s)
	rec.take()

	var id string
	var held *privacy.Request
	steps := []struct {
		name string
		run  func(t *testing.T)
		want map[string]int
	}{
		{"intake: portal submission", func(t *testing.T) {
			sub, err := svc.Submit(ctx, tenant.ID, dsr.Submission{Type: privacy.TypeAccess, Email: "ada@example.com",
				Country: "DE"}, "", dsr.Actor{})
			if err != nil {
				t.Fatal(err)
			}
			id = sub.Request.ID
		}, plus(map[string]int{"point-read tenants": 1, "create requests": 1, "replace requests": 1}, auditAppend)},
		{"verification: the code", func(t *testing.T) {
			if _, err := svc.Verify(ctx, tenant.ID, id, mail.lastCode(t)); err != nil {
				t.Fatal(err)
			}
		}, plus(map[string]int{"point-read tenants": 1, "point-read requests": 1, "replace requests": 2}, auditAppend)},
		{"notice: request received (notify function)", func(t *testing.T) { deliverNotice(t, svc, queue) },
			map[string]int{"point-read tenants": 1, "point-read requests": 1, "replace requests": 1}},
		{"approval", func(t *testing.T) {
			if _, err := svc.Approve(ctx, tenant.ID, id, dsr.Actor{Admin: "alice"}); err != nil {
				t.Fatal(err)
			}
			// The tenant has no services: the approval's write also completes
			// the request; three audit entries (approved, fanned-out, completed).
		}, plus(map[string]int{"point-read tenants": 1, "point-read requests": 1, "replace requests": 2}, auditAppend, auditAppend, auditAppend)},
		{"notice: approved (notify function)", func(t *testing.T) { deliverNotice(t, svc, queue) },
			map[string]int{"point-read tenants": 1, "point-read requests": 1, "replace requests": 1}},
		{"fan-in read: the request with its tasks", func(t *testing.T) {
			var err error
			if held, err = s.GetRequest(ctx, tenant.ID, id); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"point-read requests": 1}},
		{"task transition: one update", func(t *testing.T) {
			// Tasks live in the request document: a transition is one
			// ETag-guarded replace of it.
			held.Tasks = append(held.Tasks, privacy.Task{ID: id + ".crm.export", Service: "crm", Action: privacy.ActionExport,
				Status: privacy.TaskDone, Items: 3, UpdatedAt: time.Now().UTC()})
			if err := s.UpdateRequest(ctx, held); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"replace requests": 1}},
		{"task transition that conflicts: one update, refused", func(t *testing.T) {
			stale := *held
			stale.ETag = "\"00000000-0000-0000-0000-000000000000\""
			if err := s.UpdateRequest(ctx, &stale); !errors.Is(err, privacy.ErrConflict) {
				t.Fatalf("update with a stale ETag: %v", err)
			}
		}, map[string]int{"replace requests": 1}},
		{"status read: store", func(t *testing.T) {
			if _, err := s.GetRequest(ctx, tenant.ID, id); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"point-read requests": 1}},
		{"status read: portal and admin (the request only)", func(t *testing.T) {
			if _, err := svc.Get(ctx, tenant.ID, id); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"point-read requests": 1}},
	}
	for _, step := range steps {
		step.run(t)
		calls := rec.take()
		if d := cmp.Diff(step.want, tally(calls)); d != "" {
			t.Errorf("%s: round trips (-want +got):\n%s", step.name, d)
		}
		for _, c := range calls {
			if c.Kind == kindCrossQuery || c.Kind == kindQuery {
				t.Errorf("%s: a query on a hot path (%s on %s)", step.name, c.Kind, c.Container)
			}
		}
		t.Logf("%-50s %s", step.name, describe(calls))
	}
}

// TestHotPathIntakeWithTheChangeFeed is intake as it runs in production
// (OUTBOX_DISPATCH=changefeed): the submission answers after reading the tenant
// and creating the request, 2 round trips; its outbox (the audit entry) is
// carried out by the outbox function off the caller's path, at the cost shown.
func TestHotPathIntakeWithTheChangeFeed(t *testing.T) {
	t.Parallel()
	s, rec := newTestStore(t)
	ctx := t.Context()
	mail, queue := &mailbox{}, inmem.NewQueue(inmem.QueueOptions{})
	svc, err := dsr.New(dsr.Config{NoticesQueue: "notices", CodeTTL: 15 * time.Minute, MaxAttempts: 5, DeferOutbox: true},
		dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: s, Publisher: queue, Mailer: mail, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	tenant := newTenant(t, s)
	rec.take()

	var id string
	steps := []struct {
		name string
		run  func(t *testing.T)
		want map[string]int
	}{
		{"intake: portal submission", func(t *testing.T) {
			sub, err := svc.Submit(ctx, tenant.ID, dsr.Submission{Type: privacy.TypeAccess, Email: "ada@example.com",
				Country: "DE"}, "", dsr.Actor{})
			if err != nil {
				t.Fatal(err)
			}
			id = sub.Request.ID
		}, map[string]int{"point-read tenants": 1, "create requests": 1}},
		{"outbox function: the change feed brings the request", func(t *testing.T) {
			if err := svc.FlushRequest(ctx, tenant.ID, id); err != nil {
				t.Fatal(err)
			}
		}, plus(map[string]int{"point-read requests": 1, "replace requests": 1}, auditAppend)},
		{"outbox function: the same request again (the flush's own change)", func(t *testing.T) {
			if err := svc.FlushRequest(ctx, tenant.ID, id); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"point-read requests": 1}},
	}
	for _, step := range steps {
		step.run(t)
		calls := rec.take()
		if d := cmp.Diff(step.want, tally(calls)); d != "" {
			t.Errorf("%s: round trips (-want +got):\n%s", step.name, d)
		}
		t.Logf("%-60s %s", step.name, describe(calls))
	}
	if n := len(mail.sent); n != 1 {
		t.Errorf("mails = %d, want the one code mail", n)
	}
}

// TestStoreOpRoundTrips pins the round trips of each store operation, for
// the README's cost arithmetic.
func TestStoreOpRoundTrips(t *testing.T) {
	t.Parallel()
	s, rec := newTestStore(t)
	ctx := t.Context()
	tenantID := "rt-" + randomID(t)
	first := &privacy.AuditEvent{ID: "aud-1", TenantID: tenantID, At: time.Now().UTC(), Actor: "system", Action: "x", Target: "t"}
	second := &privacy.AuditEvent{ID: "aud-2", TenantID: tenantID, At: time.Now().UTC(), Actor: "system", Action: "x", Target: "t"}
	r := &privacy.Request{ID: "req-1", TenantID: tenantID, Type: privacy.TypeErase, Status: privacy.StatusApproved,
		CreatedAt: time.Now().UTC()}
	ops := []struct {
		name string
		run  func() error
		want map[string]int
	}{
		{"first audit append of a tenant", func() error { return s.AppendAudit(ctx, first) },
			map[string]int{"point-read audit": 2, "create audit": 1}},
		{"audit append", func() error { return s.AppendAudit(ctx, second) }, auditAppend},
		{"repeated audit append (same event id)", func() error { e := *first; return s.AppendAudit(ctx, &e) },
			map[string]int{"point-read audit": 2, "create audit": 1}},
		{"create request", func() error { return s.CreateRequest(ctx, r) }, map[string]int{"create requests": 1}},
		{"update request", func() error { return s.UpdateRequest(ctx, r) }, map[string]int{"replace requests": 1}},
		{"get request", func() error { _, err := s.GetRequest(ctx, tenantID, r.ID); return err },
			map[string]int{"point-read requests": 1}},
		{"list requests", func() error { _, err := s.ListRequests(ctx, tenantID, privacy.RequestFilter{}); return err },
			map[string]int{"query requests": 1}},
		{"list audit", func() error { _, err := s.ListAudit(ctx, tenantID, 0, 10); return err },
			map[string]int{"point-read audit": 1, "query audit": 1}},
	}
	for _, op := range ops {
		if err := op.run(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		calls := rec.take()
		if d := cmp.Diff(op.want, tally(calls)); d != "" {
			t.Errorf("%s: round trips (-want +got):\n%s", op.name, d)
		}
		t.Logf("%-40s %s", op.name, describe(calls))
	}
}
