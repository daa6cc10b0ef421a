package inbound

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/builtin"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

var (
	t0    = time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)
	email = "leaver@acme.example"
)

// fixture is the real lifecycle service on the in-memory store, with two
// tenants that each have an inbound key, and the processor under test.
type fixture struct {
	store *flakyStore
	svc   *dsr.Service
	proc  *Processor
	logs  *bytes.Buffer
	keys  map[string]sender.Key // tenant → its key
	queue *inmem.Queue
}

// flakyStore fails every call while down is set, as an unavailable store does.
type flakyStore struct {
	*inmem.Store
	mu   sync.Mutex
	down bool
}

func (f *flakyStore) setDown(v bool) { f.mu.Lock(); f.down = v; f.mu.Unlock() }
func (f *flakyStore) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("store: %w", privacy.ErrUnavailable)
	}
	return nil
}
func (f *flakyStore) GetTenant(ctx context.Context, id string) (*privacy.Tenant, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.GetTenant(ctx, id)
}
func (f *flakyStore) CreateInbound(ctx context.Context, r *privacy.InboundRecord) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.CreateInbound(ctx, r)
}

func newFixture(tb testing.TB, window time.Duration) *fixture {
	tb.Helper()
	f := &fixture{store: &flakyStore{Store: inmem.NewStore()}, logs: &bytes.Buffer{}, keys: map[string]sender.Key{}}
	now := func() time.Time { return t0 }
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	f.queue = inmem.NewQueue(inmem.QueueOptions{Now: now})
	svc, err := dsr.New(dsr.Config{NoticesQueue: "notices", TasksQueue: "tasks", CodeTTL: 15 * time.Minute, MaxAttempts: 5},
		dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: f.store, Publisher: f.queue, Mailer: nopMailer{}, Now: now, Logger: log, Inbound: f.store,
			Connectors: map[privacy.ConnectorKind]privacy.Connector{privacy.KindServiceBus: &builtin.Queue{Publisher: f.queue, Now: now},
				privacy.KindManual: builtin.Manual{}}})
	if err != nil {
		tb.Fatal(err)
	}
	f.svc = svc
	for _, id := range []string{"acme", "globex"} {
		if _, err := svc.EnsureTenant(tb.Context(), &privacy.Tenant{ID: id, Name: id, Regimes: privacy.Regimes,
			Establishment: []string{privacy.RegimeEUGDPR}, TimeZone: "UTC", PIPLDays: 30, DefaultDays: 30, Contact: "privacy@" + id + ".example"}); err != nil {
			tb.Fatal(err)
		}
		k, err := svc.CreateInboundKey(tb.Context(), id, dsr.Actor{Admin: "alice"})
		if err != nil {
			tb.Fatal(err)
		}
		f.keys[id] = keyOf(tb, k)
	}
	f.proc = New(Config{Window: window}, Deps{Service: svc, Logger: log, Now: now})
	tb.Cleanup(func() {
		if strings.Contains(f.logs.String(), email) || strings.Contains(f.logs.String(), "leaver") {
			tb.Errorf("the logs hold the subject's address:\n%s", f.logs.String())
		}
	})
	return f
}

type nopMailer struct{}

func (nopMailer) Send(context.Context, privacy.Mail) error { return nil }

func keyOf(tb testing.TB, k *privacy.ServiceSecret) sender.Key {
	tb.Helper()
	secret, err := base64.StdEncoding.DecodeString(k.Value)
	if err != nil {
		tb.Fatal(err)
	}
	return sender.Key{ID: k.ID, Secret: secret}
}

// erase builds a signed request to erase a leaver's data, naming tenant and
// signed with key at signedAt.
func erase(tb testing.TB, tenant string, key sender.Key, signedAt time.Time) Delivery {
	tb.Helper()
	ev, err := sender.NewDSRRequested(tenant, "https://hr.acme.example/leavers", sender.DSRRequested{
		Type: sender.RequestErase, Subject: sender.Subject{Email: email, Country: "DE"}, ExternalRef: "HR-4711"})
	if err != nil {
		tb.Fatal(err)
	}
	return deliver(tb, ev, key, signedAt)
}

func deliver(tb testing.TB, ev *sender.Event, key sender.Key, signedAt time.Time) Delivery {
	tb.Helper()
	m, err := ev.Message(key, signedAt)
	if err != nil {
		tb.Fatal(err)
	}
	return Delivery{MessageID: m.MessageID, Body: m.Body, ContentType: m.ContentType, Properties: m.Properties, At: t0}
}

// requests lists a tenant's requests.
func (f *fixture) requests(tb testing.TB, tenant string) []*privacy.Request {
	tb.Helper()
	page, err := f.svc.List(tb.Context(), tenant, privacy.RequestFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	return page.Requests
}

// records lists a tenant's inbound records as "status code".
func (f *fixture) records(tb testing.TB, tenant string) []string {
	tb.Helper()
	page, err := f.store.ListInbound(tb.Context(), tenant, privacy.InboundFilter{Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, r := range page.Records {
		out = append(out, strings.TrimSpace(string(r.Status)+" "+r.Code))
	}
	return out
}

func TestRequestOverServiceBusOpensARequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	out, err := f.proc.Handle(t.Context(), erase(t, "acme", f.keys["acme"], t0.Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != Accepted || out.TenantID != "acme" || out.RequestID == "" {
		t.Fatalf("outcome = %+v, want accepted for acme with a request", out)
	}
	rs := f.requests(t, "acme")
	if len(rs) != 1 {
		t.Fatalf("acme has %d requests, want 1", len(rs))
	}
	r := rs[0]
	got := []string{string(r.Type), string(r.Channel), string(r.Status), r.SubmittedBy, r.ExternalRef, r.Subject.Email}
	want := []string{"erase", "servicebus", "awaiting-decision", "system:https://hr.acme.example/leavers", "HR-4711", email}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"accepted"}, f.records(t, "acme")); d != "" {
		t.Errorf("inbound records (-want +got):\n%s", d)
	}
}

func TestDuplicateDeliveriesChangeNothing(t *testing.T) {
	t.Parallel()
	for _, concurrent := range []bool{false, true} {
		t.Run(fmt.Sprintf("concurrent=%v", concurrent), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 0)
			d := erase(t, "acme", f.keys["acme"], t0)
			outs := make([]Outcome, 3)
			var wg sync.WaitGroup
			for i := range 3 {
				run := func() {
					var err error
					if outs[i], err = f.proc.Handle(t.Context(), d); err != nil {
						t.Error(err)
					}
				}
				if concurrent {
					wg.Go(run)
				} else {
					run()
				}
			}
			wg.Wait()
			if n := len(f.requests(t, "acme")); n != 1 {
				t.Errorf("requests after 3 deliveries = %d, want 1", n)
			}
			ids := map[string]bool{}
			for _, o := range outs {
				if o.Status == Rejected {
					t.Errorf("a delivery was rejected: %+v", o)
				}
				ids[o.RequestID] = true
			}
			if len(ids) != 1 {
				t.Errorf("deliveries name %d requests, want the same one: %v", len(ids), ids)
			}
			if !concurrent {
				if d := cmp.Diff([]Status{Accepted, Duplicate, Duplicate}, []Status{outs[0].Status, outs[1].Status, outs[2].Status}); d != "" {
					t.Errorf("statuses (-want +got):\n%s", d)
				}
			}
			if d := cmp.Diff([]string{"accepted"}, f.records(t, "acme")); d != "" {
				t.Errorf("inbound records (-want +got):\n%s", d)
			}
		})
	}
}

func TestBadMessagesAreRejectedAndChangeNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		delivery   func(f *fixture) Delivery
		wantCode   string
		recordedAt string // the partition holding the rejection
	}{
		{"signed by acme, naming globex", func(f *fixture) Delivery { return erase(t, "globex", f.keys["acme"], t0) },
			"unknown-key", "globex"},
		{"signed with a made-up key of the right id", func(f *fixture) Delivery {
			return erase(t, "acme", sender.Key{ID: f.keys["acme"].ID, Secret: bytes.Repeat([]byte{9}, 32)}, t0)
		}, "bad-signature", "acme"},
		{"unknown tenant", func(f *fixture) Delivery { return erase(t, "initech", f.keys["acme"], t0) },
			"unknown-tenant", privacy.OperatorTenant},
		{"signed 10 minutes before it arrived", func(f *fixture) Delivery { return erase(t, "acme", f.keys["acme"], t0.Add(-10*time.Minute)) },
			"stale", "acme"},
		{"dated 10 minutes ahead", func(f *fixture) Delivery { return erase(t, "acme", f.keys["acme"], t0.Add(10*time.Minute)) },
			"future", "acme"},
		{"unsigned", func(f *fixture) Delivery {
			d := erase(t, "acme", f.keys["acme"], t0)
			d.Properties = nil
			return d
		}, "unsigned", "acme"},
		{"wrong content type", func(f *fixture) Delivery {
			d := erase(t, "acme", f.keys["acme"], t0)
			d.ContentType = "text/plain"
			return d
		}, "content-type", "acme"},
		{"oversized", func(f *fixture) Delivery {
			d := erase(t, "acme", f.keys["acme"], t0)
			d.Body = append(d.Body, bytes.Repeat([]byte(" "), sender.MaxBodyBytes)...)
			return d
		}, "too-large", "acme"},
		{"body altered after signing", func(f *fixture) Delivery {
			d := erase(t, "acme", f.keys["acme"], t0)
			d.Body = bytes.Replace(d.Body, []byte(`"erase"`), []byte(`"access"`), 1)
			return d
		}, "bad-signature", "acme"},
		{"not JSON", func(f *fixture) Delivery {
			d := erase(t, "acme", f.keys["acme"], t0)
			d.Body = []byte("<xml/>")
			d.Properties = map[string]string{sender.SignatureProperty: sender.Sign(f.keys["acme"], d.Body, t0)}
			return d
		}, "malformed", privacy.OperatorTenant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 0)
			d := tc.delivery(f)
			for range 2 { // a redelivery of a rejected message keeps one record
				out, err := f.proc.Handle(t.Context(), d)
				if err != nil {
					t.Fatal(err)
				}
				if out.Status != Rejected || out.Code != tc.wantCode || out.TenantID != tc.recordedAt {
					t.Fatalf("outcome = %+v, want rejected %s under %s", out, tc.wantCode, tc.recordedAt)
				}
				if strings.Contains(out.Reason, email) {
					t.Errorf("the reason quotes the subject: %q", out.Reason)
				}
			}
			for _, tenant := range []string{"acme", "globex"} {
				if n := len(f.requests(t, tenant)); n != 0 {
					t.Errorf("%s has %d requests, want none", tenant, n)
				}
			}
			if d := cmp.Diff([]string{"rejected " + tc.wantCode}, f.records(t, tc.recordedAt)); d != "" {
				t.Errorf("records under %s (-want +got):\n%s", tc.recordedAt, d)
			}
		})
	}
}

func TestRotatedKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	ctx := t.Context()
	first := f.keys["acme"]
	k2, err := f.svc.CreateInboundKey(ctx, "acme", dsr.Actor{Admin: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	second := keyOf(t, k2)
	for _, k := range []sender.Key{first, second} {
		if out, err := f.proc.Handle(ctx, erase(t, "acme", k, t0)); err != nil || out.Status != Accepted {
			t.Fatalf("key %s while both are active: %+v, %v", k.ID, out, err)
		}
	}
	if _, err := f.svc.CreateInboundKey(ctx, "acme", dsr.Actor{Admin: "alice"}); err != nil { // retires the first
		t.Fatal(err)
	}
	out, err := f.proc.Handle(ctx, erase(t, "acme", first, t0))
	if err != nil || out.Status != Rejected || out.Code != "unknown-key" {
		t.Fatalf("retired key: %+v, %v; want rejected unknown-key", out, err)
	}
}

func TestTransientFailureIsReturnedAndRecordsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	d := erase(t, "acme", f.keys["acme"], t0)
	f.store.setDown(true)
	if _, err := f.proc.Handle(t.Context(), d); !errors.Is(err, privacy.ErrUnavailable) {
		t.Fatalf("Handle with the store down = %v, want a transient error", err)
	}
	f.store.setDown(false)
	if n := len(f.records(t, "acme")) + len(f.requests(t, "acme")); n != 0 {
		t.Fatalf("%d records and requests written while the store was down", n)
	}
	// The broker redelivers: now it goes through.
	if out, err := f.proc.Handle(t.Context(), d); err != nil || out.Status != Accepted {
		t.Fatalf("redelivery: %+v, %v", out, err)
	}
}

func TestReplayAfterAFix(t *testing.T) {
	t.Parallel()
	// The operator ran with a window too short for this sender's clock: its
	// messages were rejected as stale. After widening it, a replay carries
	// them out, checked against the time they first arrived.
	f := newFixture(t, 30*time.Second)
	ctx := t.Context()
	out, err := f.proc.Handle(ctx, erase(t, "acme", f.keys["acme"], t0.Add(-2*time.Minute)))
	if err != nil || out.Status != Rejected || out.Code != "stale" {
		t.Fatalf("with a 30s window: %+v, %v", out, err)
	}
	fixed := New(Config{Window: 5 * time.Minute}, Deps{Service: f.svc, Now: func() time.Time { return t0.Add(72 * time.Hour) }})
	n, err := fixed.ReplayRejected(ctx, f.svc, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Replayed{Accepted: 1}, n); d != "" {
		t.Errorf("replay (-want +got):\n%s", d)
	}
	if got := len(f.requests(t, "acme")); got != 1 {
		t.Errorf("requests after the replay = %d, want 1", got)
	}
	// Both arrived at t0 (the replay keeps the arrival time); ties list by id.
	if d := cmp.Diff([]string{"replayed stale", "accepted"}, f.records(t, "acme")); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	// A second replay finds nothing left to do.
	if n, err := fixed.ReplayRejected(ctx, f.svc, "acme"); err != nil || n != (Replayed{}) {
		t.Errorf("second replay = %+v, %v", n, err)
	}
}

// waitingTask approves an erasure at acme's Service Bus service "payroll" and
// runs its task, which sends the task to the service and waits for its answer.
func (f *fixture) waitingTask(tb testing.TB, q *inmem.Queue) (requestID, taskID string) {
	tb.Helper()
	ctx := tb.Context()
	if _, _, err := f.svc.PutService(ctx, "acme", privacy.Service{ID: "payroll", Name: "Payroll", Kind: privacy.KindServiceBus,
		Actions: []privacy.Action{privacy.ActionErase}, Categories: []privacy.Category{privacy.CategoryProfile},
		Identifiers: []string{"email"}, Queue: "payroll-in"}, dsr.Actor{Admin: "alice"}); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := f.svc.PutService(ctx, "acme", privacy.Service{ID: "crm", Name: "CRM", Kind: privacy.KindManual,
		Actions: []privacy.Action{privacy.ActionErase}, Categories: []privacy.Category{privacy.CategoryProfile},
		Identifiers: []string{"email"}, Instructions: "Delete the contact."}, dsr.Actor{Admin: "alice"}); err != nil {
		tb.Fatal(err)
	}
	grace := 0
	t, err := f.svc.Tenant(ctx, "acme")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.svc.Configure(ctx, "acme", t.ETag, dsr.TenantSettings{Name: t.Name, Regimes: t.Regimes, Establishment: t.Establishment,
		TimeZone: t.TimeZone, PIPLDays: t.PIPLDays, DefaultDays: t.DefaultDays, Contact: t.Contact, ErasureGraceDays: &grace}, dsr.Actor{Admin: "alice"}); err != nil {
		tb.Fatal(err)
	}
	out, err := f.proc.Handle(ctx, erase(tb, "acme", f.keys["acme"], t0))
	if err != nil || out.Status != Accepted {
		tb.Fatalf("intake: %+v, %v", out, err)
	}
	if _, err := f.svc.Approve(ctx, "acme", out.RequestID, dsr.Actor{Admin: "alice"}); err != nil {
		tb.Fatal(err)
	}
	for {
		d, err := q.Receive(ctx, "tasks", time.Minute)
		if err != nil {
			tb.Fatal(err)
		}
		if d == nil {
			break
		}
		ev, err := privacy.DecodeEvent(d.Body)
		if err != nil {
			tb.Fatal(err)
		}
		var data privacy.TaskData
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			tb.Fatal(err)
		}
		if err := f.svc.RunTask(ctx, ev, data, d.DeliveryCount); err != nil {
			tb.Fatal(err)
		}
		_ = q.Complete(ctx, d)
	}
	r, err := f.svc.Get(ctx, "acme", out.RequestID)
	if err != nil {
		tb.Fatal(err)
	}
	for _, task := range r.Tasks {
		if task.Service == "payroll" && task.Status == privacy.TaskWaiting {
			taskID = task.ID
		}
	}
	if taskID == "" {
		tb.Fatalf("no waiting payroll task: %+v", r.Tasks)
	}
	return r.ID, taskID
}

func TestTaskResultsOverServiceBus(t *testing.T) {
	t.Parallel()
	src := "https://payroll.acme.example"
	completed := func(req, task string) *sender.Event {
		ev, err := sender.NewTaskCompleted("acme", src, sender.TaskCompleted{RequestID: req, TaskID: task, Outcome: sender.OutcomeDone, Items: 4})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	failed := func(req, task string, permanent bool) *sender.Event {
		ev, err := sender.NewTaskFailed("acme", src, sender.TaskFailed{RequestID: req, TaskID: task, Reason: "account locked", Permanent: permanent})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	cases := []struct {
		name       string
		event      func(req, task string) *sender.Event
		wantStatus privacy.TaskStatus
	}{
		{"completed", completed, privacy.TaskDone},
		{"failed for good", func(r, t string) *sender.Event { return failed(r, t, true) }, privacy.TaskFailed},
		{"failed for now: retried", func(r, t string) *sender.Event { return failed(r, t, false) }, privacy.TaskPending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 0)
			req, task := f.waitingTask(t, f.queue)
			d := deliver(t, tc.event(req, task), f.keys["acme"], t0)
			for range 3 { // delivered three times: carried out once
				if out, err := f.proc.Handle(t.Context(), d); err != nil || out.Status == Rejected {
					t.Fatalf("result: %+v, %v", out, err)
				}
			}
			r, err := f.svc.Get(t.Context(), "acme", req)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Task(task).Status; got != tc.wantStatus {
				t.Errorf("task status = %s, want %s", got, tc.wantStatus)
			}
			// The manual task cannot be answered over the queue.
			manual := strings.Replace(task, ".payroll.", ".crm.", 1)
			out, err := f.proc.Handle(t.Context(), deliver(t, completed(req, manual), f.keys["acme"], t0))
			if err != nil || out.Status != Rejected || out.Code != "wrong-channel" {
				t.Errorf("a manual task's result over the queue: %+v, %v; want rejected wrong-channel", out, err)
			}
			// Another tenant cannot answer acme's task, even knowing its ids.
			ev, err := sender.NewTaskCompleted("globex", src, sender.TaskCompleted{RequestID: req, TaskID: task, Outcome: sender.OutcomeNoData})
			if err != nil {
				t.Fatal(err)
			}
			out, err = f.proc.Handle(t.Context(), deliver(t, ev, f.keys["globex"], t0))
			if err != nil || out.Status != Rejected || out.Code != "unknown-request" || out.TenantID != "globex" {
				t.Errorf("globex answering acme's task: %+v, %v; want rejected unknown-request under globex", out, err)
			}
		})
	}
}
