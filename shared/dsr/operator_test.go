package dsr_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// opFixture is a service whose durable steps can be made to crash.
type opFixture struct {
	*fixture
	mu   sync.Mutex
	stop string // the step to crash at ("" none)
}

type opCrash struct{ step string }

func newOpFixture(tb testing.TB) *opFixture {
	tb.Helper()
	f := &opFixture{fixture: &fixture{store: inmem.NewStore(), mail: &mailbox{}, logs: &bytes.Buffer{},
		clock: &clock{t: time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)}}}
	f.queue = inmem.NewQueue(inmem.QueueOptions{Now: f.clock.Now})
	f.pub = &failingPublisher{Publisher: f.queue}
	svc, err := dsr.New(dsr.Config{NoticesQueue: queueName, CodeTTL: 15 * time.Minute, MaxAttempts: 5, OutboxLease: time.Minute,
		ReservedTenantIDs: []string{"privops-operator"}},
		dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: f.store, Publisher: f.pub, Mailer: f.mail, Now: f.clock.Now,
			Logger: slog.New(slog.NewJSONHandler(&syncWriter{b: f.logs}, nil)),
			Step: func(name string) {
				f.mu.Lock()
				stop := f.stop
				f.mu.Unlock()
				if name == stop {
					panic(opCrash{name})
				}
			}})
	if err != nil {
		tb.Fatal(err)
	}
	f.svc = svc
	return f
}

// crashAt runs fn, which must crash at step.
func (f *opFixture) crashAt(tb testing.TB, step string, fn func()) {
	tb.Helper()
	f.mu.Lock()
	f.stop = step
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.stop = ""
		f.mu.Unlock()
		if p := recover(); p != (opCrash{step}) {
			tb.Fatalf("recovered %v, want a crash at %s", p, step)
		}
	}()
	fn()
}

var operatorActor = dsr.Actor{Operator: "olga"}

func (f *opFixture) create(tb testing.TB, id string) *privacy.Tenant {
	tb.Helper()
	t, err := f.svc.CreateTenant(ctx, dsr.NewTenant{ID: id, TenantSettings: dsr.TenantSettings{Name: "Acme Ltd"}}, operatorActor)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// chains returns the actions of the operator's chain and of the tenant's.
func (f *opFixture) chains(tb testing.TB, tenant string) (operator, own []string) {
	tb.Helper()
	return f.auditActions(tb, privacy.OperatorTenant), f.auditActions(tb, tenant)
}

// state is everything an operator call could change.
func (f *opFixture) state(tb testing.TB) string {
	tb.Helper()
	ts, err := f.store.ListTenants(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for _, t := range ts {
		op, own := f.chains(tb, t.ID)
		b.WriteString(t.ID + " " + t.ETag + " " + string(t.Status) + " " + strings.Join(own, ",") + "|" + strings.Join(op, ",") + "\n")
	}
	return b.String()
}

func TestCreateTenantWithDefaultsAuditedInBothChains(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	got := f.create(t, "acme")
	grace := 30
	want := &privacy.Tenant{ID: "acme", Name: "Acme Ltd", TimeZone: "UTC", PIPLDays: 30, DefaultDays: 30,
		ErasureGraceDays: &grace, ExportLinkDays: 7, Status: privacy.TenantActive, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	stored, err := f.store.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, stored, cmpIgnoreETag); diff != "" {
		t.Errorf("stored tenant (-want +got):\n%s", diff)
	}
	if got.ETag != stored.ETag {
		t.Errorf("returned ETag %q, stored %q: the caller must get the version after the outbox was cleared", got.ETag, stored.ETag)
	}
	opEvs, _ := f.store.ListAudit(ctx, privacy.OperatorTenant, 0, 10)
	ownEvs, _ := f.store.ListAudit(ctx, "acme", 0, 10)
	if len(opEvs) != 1 || len(ownEvs) != 1 {
		t.Fatalf("operator chain %d events, tenant chain %d: want one each", len(opEvs), len(ownEvs))
	}
	for _, e := range []privacy.AuditEvent{opEvs[0], ownEvs[0]} {
		if e.Action != "tenant.created" || e.Actor != "operator:olga" || e.Target != "tenant/acme" || e.ID != opEvs[0].ID {
			t.Errorf("audit event %+v", e)
		}
	}
}

var cmpIgnoreETag = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "ETag" }, cmp.Ignore())

func TestCreateTenantBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		in        dsr.NewTenant
		wantKind  privacy.Kind
		wantCode  string
		wantField string
	}{
		{"duplicate id", dsr.NewTenant{ID: "acme", TenantSettings: dsr.TenantSettings{Name: "Other"}}, privacy.KindConflict, "tenant-exists", ""},
		{"invalid id", dsr.NewTenant{ID: "Acme_Ltd", TenantSettings: dsr.TenantSettings{Name: "A"}}, privacy.KindUnprocessable, "invalid-tenant-id", "id"},
		{"the operator's partition", dsr.NewTenant{ID: privacy.OperatorTenant, TenantSettings: dsr.TenantSettings{Name: "A"}}, privacy.KindUnprocessable, "reserved-tenant-id", "id"},
		{"the operator's tenant claim value", dsr.NewTenant{ID: "privops-operator", TenantSettings: dsr.TenantSettings{Name: "A"}}, privacy.KindUnprocessable, "reserved-tenant-id", "id"},
		{"no name", dsr.NewTenant{ID: "initech"}, privacy.KindUnprocessable, "invalid-tenant", "name"},
		{"unknown zone", dsr.NewTenant{ID: "initech", TenantSettings: dsr.TenantSettings{Name: "A", TimeZone: "Mars/Olympus"}}, privacy.KindUnprocessable, "invalid-tenant", "timeZone"},
		{"unknown regime", dsr.NewTenant{ID: "initech", TenantSettings: dsr.TenantSettings{Name: "A", Regimes: []string{"eu-eprivacy"}}}, privacy.KindUnprocessable, "invalid-tenant", "regimes"},
		{"unknown establishment", dsr.NewTenant{ID: "initech", TenantSettings: dsr.TenantSettings{Name: "A", Establishment: []string{"gdpr"}}}, privacy.KindUnprocessable, "invalid-tenant", "establishment"},
		{"bad origin", dsr.NewTenant{ID: "initech", TenantSettings: dsr.TenantSettings{Name: "A", PortalOrigins: []string{"https://a.example/x"}}}, privacy.KindUnprocessable, "invalid-tenant", "portalOrigins"},
		{"piplDays out of range", dsr.NewTenant{ID: "initech", TenantSettings: dsr.TenantSettings{Name: "A", PIPLDays: 91}}, privacy.KindUnprocessable, "invalid-tenant", "piplDays"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newOpFixture(t)
			f.create(t, "acme")
			before := f.state(t)
			_, err := f.svc.CreateTenant(ctx, tc.in, operatorActor)
			e, ok := privacy.AsError(err)
			if !ok || e.Kind != tc.wantKind || e.Code != tc.wantCode || e.Field != tc.wantField {
				t.Fatalf("error %v (%+v), want kind %d code %s field %q", err, e, tc.wantKind, tc.wantCode, tc.wantField)
			}
			if after := f.state(t); after != before {
				t.Errorf("state changed:\n%s→\n%s", before, after)
			}
		})
	}
}

func TestUpdateTenantIsGuardedByIfMatch(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	tn := f.create(t, "acme")
	before := f.state(t)
	in := dsr.SettingsOf(tn)
	in.TimeZone = "Asia/Shanghai"
	for _, tc := range []struct {
		name, ifMatch string
		wantKind      privacy.Kind
		wantCode      string
	}{
		{"missing", "", privacy.KindPreconditionRequired, "if-match-required"},
		{"stale", `"stale"`, privacy.KindPreconditionFailed, "etag-mismatch"},
	} {
		_, err := f.svc.UpdateTenant(ctx, "acme", tc.ifMatch, in, operatorActor)
		if e, ok := privacy.AsError(err); !ok || e.Kind != tc.wantKind || e.Code != tc.wantCode {
			t.Errorf("%s If-Match: %v, want %s", tc.name, err, tc.wantCode)
		}
		if after := f.state(t); after != before {
			t.Errorf("%s If-Match changed state:\n%s→\n%s", tc.name, before, after)
		}
	}
	in.PIPLDays = 0 // back to the default
	got, err := f.svc.UpdateTenant(ctx, "acme", tn.ETag, in, operatorActor)
	if err != nil {
		t.Fatal(err)
	}
	if got.TimeZone != "Asia/Shanghai" || got.PIPLDays != 30 {
		t.Errorf("updated tenant zone %s, piplDays %d", got.TimeZone, got.PIPLDays)
	}
	evs, _ := f.store.ListAudit(ctx, "acme", 0, 10)
	if last := evs[len(evs)-1]; last.Action != "tenant.updated" || last.Details["fields"] != "timeZone" {
		t.Errorf("tenant chain's last event %s %v, want tenant.updated naming timeZone", last.Action, last.Details)
	}
	// The version just replaced is stale now.
	if _, err := f.svc.UpdateTenant(ctx, "acme", tn.ETag, in, operatorActor); code(err) != "etag-mismatch" {
		t.Errorf("update with the replaced ETag: %v", err)
	}
}

func TestSuspendRefusesNewRequestsAndFinishesWorkInFlight(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	f.create(t, "acme")
	waiting, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	codeMail := f.mail.lastCode(t)
	decided, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{Admin: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SuspendTenant(ctx, "acme", "", operatorActor); code(err) != "reason-required" {
		t.Errorf("suspend without a reason: %v", err)
	}
	s, err := f.svc.SuspendTenant(ctx, "acme", "contract ended 2030-01-31", operatorActor)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != privacy.TenantSuspended || s.Suspension == nil || s.Suspension.By != "operator:olga" {
		t.Errorf("suspended tenant %s %+v", s.Status, s.Suspension)
	}
	if _, err := f.svc.SuspendTenant(ctx, "acme", "again", operatorActor); code(err) != "tenant-suspended-already" {
		t.Errorf("second suspension: %v", err)
	}
	before, _ := f.store.ListRequests(ctx, "acme", privacy.RequestFilter{Limit: 100})
	for _, actor := range []dsr.Actor{{}, {Admin: "alice"}, {System: "//hr.acme.example"}} {
		_, err := f.svc.Submit(ctx, "acme", validSubmission(), "k-"+actor.String(), actor)
		if e, ok := privacy.AsError(err); !ok || e.Code != "tenant-suspended" || e.Kind != privacy.KindForbidden {
			t.Errorf("submission by %s to a suspended tenant: %v", actor, err)
		}
	}
	if after, _ := f.store.ListRequests(ctx, "acme", privacy.RequestFilter{Limit: 100}); len(after.Requests) != len(before.Requests) {
		t.Errorf("%d requests after refused submissions, want %d", len(after.Requests), len(before.Requests))
	}
	// Work in flight finishes: verification and decisions.
	if _, err := f.svc.Verify(ctx, "acme", waiting.Request.ID, codeMail); err != nil {
		t.Errorf("verify while suspended: %v", err)
	}
	if r, err := f.svc.Approve(ctx, "acme", decided.Request.ID, dsr.Actor{Admin: "alice"}); err != nil || r.Status != privacy.StatusCompleted {
		t.Errorf("approve while suspended: %v", err)
	}
	// Admins still read.
	if _, err := f.svc.Get(ctx, "acme", decided.Request.ID); err != nil {
		t.Errorf("read while suspended: %v", err)
	}
	if _, err := f.svc.ResumeTenant(ctx, "acme", operatorActor); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ResumeTenant(ctx, "acme", operatorActor); code(err) != "tenant-not-suspended" {
		t.Errorf("second resume: %v", err)
	}
	if _, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{}); err != nil {
		t.Errorf("submission after resume: %v", err)
	}
	op, own := f.chains(t, "acme")
	if diff := cmp.Diff([]string{"tenant.created", "tenant.suspended", "tenant.resumed"}, op); diff != "" {
		t.Errorf("operator chain (-want +got):\n%s", diff)
	}
	var tenantActions []string
	for _, a := range own {
		if strings.HasPrefix(a, "tenant.") {
			tenantActions = append(tenantActions, a)
		}
	}
	if diff := cmp.Diff([]string{"tenant.created", "tenant.suspended", "tenant.resumed"}, tenantActions); diff != "" {
		t.Errorf("tenant chain's tenant events (-want +got):\n%s", diff)
	}
}

func TestTenantsArePagedInIDOrder(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	for _, id := range []string{"delta", "alpha", "echo", "charlie", "bravo"} {
		f.create(t, id)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := f.svc.Tenants(ctx, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range page.Tenants {
			got = append(got, tn.ID)
		}
		if page.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		cursor = page.Next
	}
	if diff := cmp.Diff([]string{"alpha", "bravo", "charlie", "delta", "echo"}, got); diff != "" {
		t.Errorf("tenants (-want +got):\n%s", diff)
	}
	if _, err := f.svc.Tenants(ctx, "Not/A/Cursor", 2); code(err) != "invalid-cursor" {
		t.Errorf("bad cursor: %v", err)
	}
}
