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
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// mailbox records mails by ID (a resend with the same ID replaces the first,
// as the outbox mailer does); addresses in bounce are refused for good.
type mailbox struct {
	mu     sync.Mutex
	byID   map[string]privacy.Mail
	sends  int
	bounce map[string]bool
	down   bool
}

func (m *mailbox) Send(_ context.Context, mail privacy.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.down:
		return fmt.Errorf("smtp: %w", privacy.ErrUnavailable)
	case m.bounce[mail.To]:
		return errors.New("550 no such mailbox")
	}
	if m.byID == nil {
		m.byID = map[string]privacy.Mail{}
	}
	m.byID[mail.ID] = mail
	m.sends++
	return nil
}

// to counts the distinct mails per address.
func (m *mailbox) to() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, mail := range m.byID {
		out[mail.To]++
	}
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc   *breach.Service
	store *inmem.Store
	mail  *mailbox
	clock *clock
}

var t0 = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

func tenantWith(id, lang string, services ...string) *privacy.Tenant {
	t := &privacy.Tenant{ID: id, Name: strings.ToUpper(id), Regimes: []string{privacy.RegimeEUGDPR}, TimeZone: "UTC", PIPLDays: 30, DefaultDays: 30,
		Breach: &privacy.BreachSettings{Services: services, Regions: []string{"westeurope"}, SLAHours: 24, Contacts: []privacy.SecurityContact{
			{Email: "sec@" + id + ".example", Role: privacy.ContactPrimary, Language: lang},
			{Email: "ciso@" + id + ".example", Role: privacy.ContactSecondary, Language: lang}}}}
	t.ApplyDefaults()
	return t
}

func newFixture(tb testing.TB, tenants ...*privacy.Tenant) *fixture {
	tb.Helper()
	f := &fixture{store: inmem.NewStore(), mail: &mailbox{bounce: map[string]bool{}}, clock: &clock{t: t0}}
	for _, t := range tenants {
		if err := f.store.CreateTenant(context.Background(), t); err != nil {
			tb.Fatal(err)
		}
	}
	n := 0
	svc, err := breach.New(breach.Config{PublicURL: "https://privops.example", AckKey: []byte("0123456789abcdef0123")},
		breach.Deps{Store: f.store, Tenants: f.store, Audit: f.store, Mailer: f.mail, Now: f.clock.now,
			NewID: func() string { n++; return fmt.Sprintf("%04d", n) }})
	if err != nil {
		tb.Fatal(err)
	}
	f.svc = svc
	return f
}

func declaration() breach.Declaration {
	return breach.Declaration{DetectedAt: t0.Add(-2 * time.Hour), AwareAt: t0.Add(-time.Hour), Jurisdictions: []string{"eu-gdpr"},
		Facts: breach.Facts{Title: "Backup bucket exposed", Nature: "a storage bucket was readable without authentication",
			Categories: []string{"contact details"}, SubjectGroups: []string{"customers"}, SubjectsApprox: 1200, RecordsApprox: 5000,
			Consequences: "phishing", Measures: "access revoked; keys rotated", Contact: "dpo@operator.example", Risk: breach.RiskHigh}}
}

func TestDeclareNotifiesEachAffectedTenantOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"), tenantWith("beta", "zh-CN", "db"), tenantWith("gamma", "en", "queue"))
	d := declaration()
	d.Scope = &breach.Scope{Services: []string{"db"}}
	inc, created, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil || !created {
		t.Fatalf("declare: %v %v", created, err)
	}
	if diff := cmp.Diff([]string{"acme", "beta"}, inc.Tenants); diff != "" {
		t.Errorf("resolved tenants (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"sec@acme.example": 1, "sec@beta.example": 1}, f.mail.to()); diff != "" {
		t.Errorf("mails (-want +got):\n%s", diff)
	}
	for _, m := range f.mail.byID {
		if m.To == "sec@beta.example" && !strings.Contains(m.Subject, "安全事件") {
			t.Errorf("beta's contact reads Simplified Chinese, got subject %q", m.Subject)
		}
		if !strings.Contains(m.Text, "https://privops.example/api/breach/ack/") {
			t.Errorf("the notice carries no acknowledgement link:\n%s", m.Text)
		}
		// The GDPR clock runs from this first notice: 72 h from now.
		if !strings.Contains(m.Text, "eu-gdpr-authority (authority, 72h): "+t0.Add(72*time.Hour).Format(time.RFC3339)) {
			t.Errorf("the notice does not state the tenant's GDPR deadline:\n%s", m.Text)
		}
	}
	// Tenant isolation: gamma has no notice, beta's shows no other tenant.
	if _, err := f.svc.Notice(t.Context(), "gamma", inc.ID); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("gamma's notice: %v, want not found", err)
	}
	n, err := f.svc.Notice(t.Context(), "beta", inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.NotifiedAt.IsZero() || len(n.Pending) != 0 || n.AttentionAt.IsZero() {
		t.Errorf("beta's notice: notified %v, pending %d, attention %v", n.NotifiedAt, len(n.Pending), n.AttentionAt)
	}
	stored, _ := f.svc.Incident(t.Context(), inc.ID)
	if len(stored.Pending) != 0 || len(stored.PendingAudit) != 0 {
		t.Errorf("incident outbox not cleared: %v %v", stored.Pending, stored.PendingAudit)
	}
	// The operator's chain and each tenant's hold their events.
	for tenant, action := range map[string]string{privacy.OperatorTenant: "incident.declared", "acme": "breach.notice.sent"} {
		evs, _ := f.store.ListAudit(t.Context(), tenant, 0, 100)
		if !slices.ContainsFunc(evs, func(e privacy.AuditEvent) bool { return e.Action == action }) {
			t.Errorf("%s's chain lacks %s: %v", tenant, action, evs)
		}
	}
}

func TestEveryIncidentIsRegisteredWithAReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"))
	d := declaration()
	d.Scope = &breach.Scope{Services: []string{"nothing-here"}}
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Tenants) != 0 || inc.NoNoticeReason == "" {
		t.Errorf("tenants %v, reason %q", inc.Tenants, inc.NoNoticeReason)
	}
	if len(f.mail.to()) != 0 {
		t.Errorf("mails sent: %v", f.mail.to())
	}
}

func TestDuplicateSubProcessorReportIsOneIncident(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"))
	d := declaration()
	d.Tenants = []string{"acme"}
	o := breach.Origin{Actor: "system:/sub", Source: "/sub", EventID: "evt-1", ReportTenant: "acme"}
	a, created, err := f.svc.Declare(t.Context(), d, o)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	b, created, err := f.svc.Declare(t.Context(), d, o)
	if err != nil || created || b.ID != a.ID {
		t.Fatalf("second report: created %v, id %s vs %s, %v", created, b.ID, a.ID, err)
	}
	page, _ := f.svc.Incidents(t.Context(), "", 10)
	if len(page.Incidents) != 1 || f.mail.sends != 1 {
		t.Errorf("%d incidents, %d mails; want 1 and 1", len(page.Incidents), f.mail.sends)
	}
}

func TestBadDeclarationChangesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, code string
		change     func(*breach.Declaration)
	}{
		{"no nature", "invalid-incident", func(d *breach.Declaration) { d.Nature = "" }},
		{"aware before detected", "invalid-incident", func(d *breach.Declaration) { d.AwareAt = d.DetectedAt.Add(-time.Hour) }},
		{"unknown jurisdiction", "invalid-incident", func(d *breach.Declaration) { d.Jurisdictions = []string{"mars"} }},
		{"china without grade", "invalid-incident", func(d *breach.Declaration) { d.Jurisdictions = []string{"cn"} }},
		{"tenants and scope", "invalid-incident", func(d *breach.Declaration) {
			d.Tenants = []string{"acme"}
			d.Scope = &breach.Scope{Regions: []string{"x1"}}
		}},
		{"unknown tenant", "unknown-tenant", func(d *breach.Declaration) { d.Tenants = []string{"nobody"} }},
		{"bad risk", "invalid-incident", func(d *breach.Declaration) { d.Risk = "medium" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tenantWith("acme", "en", "db"))
			d := declaration()
			tc.change(&d)
			_, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
			if e, ok := privacy.AsError(err); !ok || e.Code != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
			page, _ := f.svc.Incidents(t.Context(), "", 10)
			evs, _ := f.store.ListAudit(t.Context(), privacy.OperatorTenant, 0, 10)
			if len(page.Incidents) != 0 || len(evs) != 0 || len(f.mail.to()) != 0 {
				t.Errorf("changed: %d incidents, %d audit events, %d mails", len(page.Incidents), len(evs), len(f.mail.to()))
			}
		})
	}
}

// TestAPhasedReportSkipsAnOffboardedTenant: an incident keeps naming a
// tenant that was offboarded since (the processor's own record, GDPR Art.
// 33(5)), and its next phased report reaches every other tenant instead of
// failing on the missing one; a tenant whose purge has started gets no new
// notice either.
func TestAPhasedReportSkipsAnOffboardedTenant(t *testing.T) {
	t.Parallel()
	purging := tenantWith("gamma", "en", "db")
	f := newFixture(t, tenantWith("acme", "en", "db"), tenantWith("beta", "en", "db"), purging)
	d := declaration()
	d.Tenants = []string{"acme", "beta", "gamma"}
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	// acme is offboarded (its notice went with it); gamma's purge started.
	if err := f.store.DeleteTenant(t.Context(), "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PurgeTenantData(t.Context(), "acme", privacy.DataKindBreachNotices, 100); err != nil {
		t.Fatal(err)
	}
	g, err := f.store.GetTenant(t.Context(), "gamma")
	if err != nil {
		t.Fatal(err)
	}
	g.Status = privacy.TenantOffboarding
	g.Offboarding = &privacy.Offboarding{ID: "off_1", Purge: &privacy.OffboardPurge{StartedAt: t0}}
	if err := f.store.UpdateTenant(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	f.clock.add(time.Hour)
	if _, err := f.svc.AddReport(t.Context(), inc.ID, breach.ReportInput{Summary: "contained", Facts: d.Facts}, "operator:sec"); err != nil {
		t.Fatal(err)
	}
	stored, err := f.svc.Incident(t.Context(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acme", "beta", "gamma"}, stored.Tenants); diff != "" {
		t.Errorf("the incident's tenants (-want +got):\n%s", diff)
	}
	if len(stored.Pending) != 0 {
		t.Errorf("the incident's outbox is stuck on %v", stored.Pending)
	}
	if n, err := f.svc.Notice(t.Context(), "beta", inc.ID); err != nil || n.Version != 2 {
		t.Fatalf("beta's notice: %v, want version 2", err)
	}
	if _, err := f.svc.Notice(t.Context(), "acme", inc.ID); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("a notice for the offboarded tenant: %v", err)
	}
	if n, err := f.svc.Notice(t.Context(), "gamma", inc.ID); err != nil || n.Version != 1 {
		t.Errorf("gamma's notice moved on during its purge: %v", err)
	}
}
