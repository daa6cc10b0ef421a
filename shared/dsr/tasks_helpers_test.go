package dsr_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// This file holds the task-pipeline fixture: the fixture of dsr_test.go with
// a blob store, a scripted fake connector and a tasks queue, plus helpers that
// drain the tasks queue the way the tasks function does.

const (
	tasksQueue   = "tasks"
	publicURL    = "https://privops.example.com"
	subjectEmail = "ada.lovelace@example.com"
	admin        = "alice"
)

// taskFixture is the fixture of dsr_test.go wired for the task pipeline.
type taskFixture struct {
	*fixture
	conn    *fakeConnector
	tenants *tenantReads // the store as the service sees it, counting tenant reads
	blobs   *blob.Local
	blobDir string // where blobs keeps its files

	stepMu sync.Mutex
	onStep func(name string) // called at each durable step, if set
}

// newTaskFixture returns a fixture whose service runs tasks against a fake
// connector (registered for webhook and manual services, not cosmos). change,
// if given, adjusts the config.
func newTaskFixture(tb testing.TB, change ...func(*dsr.Config)) *taskFixture {
	tb.Helper()
	f := &taskFixture{fixture: &fixture{store: inmem.NewStore(), mail: &mailbox{}, logs: &bytes.Buffer{},
		clock: &clock{t: time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)}}, conn: newFakeConnector()}
	f.tenants = &tenantReads{Store: f.store}
	f.queue = inmem.NewQueue(inmem.QueueOptions{Now: f.clock.Now})
	f.pub = &failingPublisher{Publisher: f.queue}
	f.blobDir = tb.TempDir()
	blobs, err := blob.NewLocal(f.blobDir)
	if err != nil {
		tb.Fatal(err)
	}
	f.blobs = blobs
	cfg := dsr.Config{NoticesQueue: queueName, TasksQueue: tasksQueue, CodeTTL: 15 * time.Minute, MaxAttempts: 5,
		MaxCodeSends: 3, OutboxLease: time.Minute, PublicURL: publicURL, PortalBaseURL: "https://privacy.example.com"}
	for _, c := range change {
		c(&cfg)
	}
	svc, err := dsr.New(cfg, dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: f.tenants, Publisher: f.pub, Mailer: f.mail, Blobs: blobs, Now: f.clock.Now,
			Connectors: map[privacy.ConnectorKind]privacy.Connector{privacy.KindWebhook: f.conn, privacy.KindManual: f.conn},
			Logger:     slog.New(slog.NewJSONHandler(&syncWriter{b: f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Step:       f.step})
	if err != nil {
		tb.Fatal(err)
	}
	f.svc = svc
	for _, id := range []string{"acme", "globex"} {
		t := &privacy.Tenant{ID: id, Name: strings.ToUpper(id), Regimes: privacy.Regimes, Establishment: []string{privacy.RegimeEUGDPR},
			TimeZone: "Europe/Berlin", PIPLDays: 30, DefaultDays: 30, Contact: "privacy@" + id + ".example"}
		if _, err := svc.EnsureTenant(ctx, t); err != nil {
			tb.Fatal(err)
		}
	}
	// Whatever a test did, the logs never carry the subject's address.
	tb.Cleanup(func() {
		for _, needle := range []string{subjectEmail, "ada.lovelace", "+4915123456789"} {
			if strings.Contains(f.logs.String(), needle) {
				tb.Errorf("logs contain personal data %q:\n%s", needle, f.logs.String())
			}
		}
	})
	return f
}

func (f *taskFixture) step(name string) {
	f.stepMu.Lock()
	fn := f.onStep
	f.stepMu.Unlock()
	if fn != nil {
		fn(name)
	}
}

// setStep installs (or, with nil, removes) the durable-step hook.
func (f *taskFixture) setStep(fn func(name string)) {
	f.stepMu.Lock()
	defer f.stepMu.Unlock()
	f.onStep = fn
}

// setGrace sets the tenant's erasure grace period through Configure.
func (f *taskFixture) setGrace(tb testing.TB, tenant string, days int) {
	tb.Helper()
	t, err := f.svc.Tenant(ctx, tenant)
	if err != nil {
		tb.Fatal(err)
	}
	in := dsr.TenantSettings{Name: t.Name, Regimes: t.Regimes, Establishment: t.Establishment, TimeZone: t.TimeZone,
		PIPLDays: t.PIPLDays, DefaultDays: t.DefaultDays, Contact: t.Contact, ErasureGraceDays: &days}
	if _, err := f.svc.Configure(ctx, tenant, "", in, dsr.Actor{Admin: admin}); err != nil {
		tb.Fatal(err)
	}
}

// addService configures a webhook service holding cats that supports actions.
func (f *taskFixture) addService(tb testing.TB, tenant, id string, kind privacy.ConnectorKind, actions []privacy.Action, cats ...privacy.Category) {
	tb.Helper()
	in := privacy.Service{ID: id, Name: strings.ToUpper(id[:1]) + id[1:], Kind: kind, Actions: actions, Categories: cats,
		Identifiers: []string{"email", "phone"}}
	if kind == privacy.KindWebhook {
		in.URL = "https://" + id + ".example.com/dsr"
	}
	if kind == privacy.KindCosmos {
		in.Container = id + "-data"
		in.IdentityPaths = map[string]string{"email": "/contact/email", "phone": "/contact/phone"}
	}
	if _, _, err := f.svc.PutService(ctx, tenant, in, dsr.Actor{Admin: admin}); err != nil {
		tb.Fatal(err)
	}
}

var (
	eraseActions  = []privacy.Action{privacy.ActionExport, privacy.ActionErase}
	verifyActions = []privacy.Action{privacy.ActionExport, privacy.ActionErase, privacy.ActionLookup}
	graceActions  = []privacy.Action{privacy.ActionErase, privacy.ActionRestrict, privacy.ActionLiftRestriction}
)

// submit records a request on the subject's behalf (so it needs no code) and
// returns it awaiting the decision.
func (f *taskFixture) submit(tb testing.TB, typ privacy.RequestType, cats ...privacy.Category) *privacy.Request {
	tb.Helper()
	sub := dsr.Submission{Type: typ, Email: subjectEmail, Country: "DE", Phone: "+4915123456789", Categories: cats}
	if typ == privacy.TypeRectify {
		sub.Changes = []privacy.FieldChange{{Field: "name", Value: "Ada King"}}
	}
	res, err := f.svc.Submit(ctx, "acme", sub, "", dsr.Actor{Admin: admin})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Request
}

// approved submits and approves a request: the fan-out happens in the approval.
func (f *taskFixture) approved(tb testing.TB, typ privacy.RequestType, cats ...privacy.Category) *privacy.Request {
	tb.Helper()
	r, err := f.svc.Approve(ctx, "acme", f.submit(tb, typ, cats...).ID, dsr.Actor{Admin: admin})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// get reads a request of acme.
func (f *taskFixture) get(tb testing.TB, id string) *privacy.Request {
	tb.Helper()
	r, err := f.svc.Get(ctx, "acme", id)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// delivery is one received task message, decoded.
type delivery struct {
	d    *privacy.Delivery
	ev   privacy.Event
	data privacy.TaskData
}

// receive takes the next visible task message, or nil.
func (f *taskFixture) receive(tb testing.TB) *delivery {
	tb.Helper()
	d, err := f.queue.Receive(ctx, tasksQueue, time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	if d == nil {
		return nil
	}
	ev, err := privacy.DecodeEvent(d.Body)
	if err != nil {
		tb.Fatal(err)
	}
	var data privacy.TaskData
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		tb.Fatal(err)
	}
	return &delivery{d: d, ev: ev, data: data}
}

// receiveAll takes every visible task message.
func (f *taskFixture) receiveAll(tb testing.TB) []*delivery {
	tb.Helper()
	var out []*delivery
	for m := f.receive(tb); m != nil; m = f.receive(tb) {
		out = append(out, m)
	}
	return out
}

// handle runs a message as the tasks function does (without acknowledging it).
func (f *taskFixture) handle(m *delivery) error {
	switch m.ev.Type {
	case privacy.EventTaskRun:
		return f.svc.RunTask(ctx, m.ev, m.data, m.d.DeliveryCount)
	case privacy.EventPackage:
		return f.svc.BuildPackage(ctx, m.ev, m.data)
	}
	return fmt.Errorf("unexpected event type %s", m.ev.Type)
}

// complete acknowledges a message.
func (f *taskFixture) complete(tb testing.TB, m *delivery) {
	tb.Helper()
	if err := f.queue.Complete(ctx, m.d); err != nil {
		tb.Fatal(err)
	}
}

// drain handles and acknowledges every visible task message, including those
// the handling publishes, and returns their ids in order.
func (f *taskFixture) drain(tb testing.TB) []string {
	tb.Helper()
	var ids []string
	for range 1000 {
		m := f.receive(tb)
		if m == nil {
			return ids
		}
		if err := f.handle(m); err != nil {
			tb.Fatalf("message %s: %v", m.d.ID, err)
		}
		f.complete(tb, m)
		ids = append(ids, m.d.ID)
	}
	tb.Fatal("the tasks queue does not drain")
	return nil
}

// untilSettled drains the tasks queue, moving the clock to each retry a task
// scheduled, until no task of the request is pending or running.
func (f *taskFixture) untilSettled(tb testing.TB, id string) *privacy.Request {
	tb.Helper()
	for range 100 {
		f.drain(tb)
		r := f.get(tb, id)
		var next time.Time
		for _, task := range r.Tasks {
			if task.Status == privacy.TaskPending && (next.IsZero() || task.NotBefore.Before(next)) {
				next = task.NotBefore
			}
			if task.Status == privacy.TaskRunning {
				tb.Fatalf("task %s is left running", task.ID)
			}
		}
		if next.IsZero() {
			f.drain(tb) // a package message, if any
			return f.get(tb, id)
		}
		if d := next.Sub(f.clock.Now()); d > 0 {
			f.clock.Add(d)
		}
	}
	tb.Fatal("the request does not settle")
	return nil
}

// queued counts the tasks queue's live messages: visible now, and scheduled.
func (f *taskFixture) queued(tb testing.TB) (visible, delayed int) {
	tb.Helper()
	c, err := f.queue.Counts(ctx, tasksQueue)
	if err != nil {
		tb.Fatal(err)
	}
	return c.Visible, c.Delayed
}

// countAudit counts acme's audit entries by action.
func (f *taskFixture) countAudit(tb testing.TB) map[string]int {
	tb.Helper()
	out := map[string]int{}
	for _, a := range f.auditActions(tb, "acme") {
		out[a]++
	}
	return out
}

// countNotices mails the queued notices and counts them by type.
func (f *taskFixture) countNotices(tb testing.TB) map[string]int {
	tb.Helper()
	out := map[string]int{}
	for _, n := range f.notices(tb) {
		out[n]++
	}
	return out
}

// taskLine is what the tests compare of a task.
type taskLine struct {
	ID, Status, Reason string
}

func lines(r *privacy.Request) []taskLine {
	out := []taskLine{}
	for _, t := range r.Tasks {
		out = append(out, taskLine{t.ID, string(t.Status), t.Reason})
	}
	return out
}

// eventFor builds a task message by hand (an early, late or forged delivery).
func eventFor(tb testing.TB, tenant, requestID, taskID string) (privacy.Event, privacy.TaskData) {
	tb.Helper()
	data := privacy.TaskData{RequestID: requestID, TaskID: taskID}
	ev, err := privacy.NewEvent("evt_by_hand_"+taskID, privacy.EventTaskRun, tenant, "request/"+requestID, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), data)
	if err != nil {
		tb.Fatal(err)
	}
	return ev, data
}

// userCode returns the machine-readable code and kind of a user error.
func userCode(err error) (string, privacy.Kind) {
	if e, ok := privacy.AsError(err); ok {
		return e.Code, e.Kind
	}
	return code(err), 0
}

// writeBetween makes another writer replace request id once, when the
// service passes step: the next write of the flow under test then conflicts.
func (f *taskFixture) writeBetween(t *testing.T, step, id string) {
	t.Helper()
	var once sync.Once
	f.setStep(func(name string) {
		if name != step {
			return
		}
		once.Do(func() {
			cur, err := f.store.GetRequest(ctx, "acme", id)
			if err == nil {
				err = f.store.UpdateRequest(ctx, cur)
			}
			if err != nil {
				t.Error(err)
			}
		})
	})
}
