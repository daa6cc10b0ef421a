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

func TestPhasedReportReachesTenantsAsNewVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"))
	d := declaration()
	d.Tenants = []string{"acme"}
	d.Jurisdictions = []string{"br-lgpd"}
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.add(time.Hour)
	facts := d.Facts
	facts.SubjectsApprox = 3000
	if _, err := f.svc.AddReport(t.Context(), inc.ID, breach.ReportInput{Summary: "scope widened", Facts: facts}, "operator:sec"); err != nil {
		t.Fatal(err)
	}
	n, _ := f.svc.Notice(t.Context(), "acme", inc.ID)
	if n.Version != 2 || n.Facts.SubjectsApprox != 3000 || len(n.Reports) != 2 {
		t.Errorf("notice version %d, subjects %d, reports %d", n.Version, n.Facts.SubjectsApprox, len(n.Reports))
	}
	clocks, _ := f.svc.Clocks(t.Context(), n)
	got := map[string]string{}
	for _, c := range clocks {
		got[c.ID] = c.Status
	}
	// Version 2 has its own processor clock, met by its delivery; the LGPD
	// supplement is the controller's to file, running until it says so.
	want := map[string]string{"processor-sla": breach.ClockMet, "processor-sla-v2": breach.ClockMet, "br-lgpd-anpd": breach.ClockRunning,
		"br-lgpd-subjects": breach.ClockRunning, "br-lgpd-supplement": breach.ClockRunning}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("clocks after report v2 (-want +got):\n%s", diff)
	}
	if _, err := f.svc.MarkMetByTenant(t.Context(), "acme", inc.ID, "br-lgpd-supplement", time.Time{}, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	n, _ = f.svc.Notice(t.Context(), "acme", inc.ID)
	clocks, _ = f.svc.Clocks(t.Context(), n)
	for _, c := range clocks {
		if c.ID == "br-lgpd-supplement" && c.Status != breach.ClockMet {
			t.Errorf("the supplement clock is %s after the tenant recorded it met", c.Status)
		}
	}
	if f.mail.sends != 2 {
		t.Errorf("%d mails, want 2 (one per version)", f.mail.sends)
	}
}

func TestSubjectNoticeAndApproval(t *testing.T) {
	t.Parallel()
	auto := tenantWith("auto", "en", "db")
	auto.Breach.AutoApproveHighRisk = true
	f := newFixture(t, tenantWith("acme", "en", "db"), auto)
	d := declaration()
	d.Tenants = []string{"acme", "auto"}
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := f.svc.SubjectNotice(t.Context(), "auto", inc.ID)
	if err != nil || !sn.Approved || sn.Version != 1 || sn.Text["zh-CN"] == "" || sn.Subject["en"] == "" {
		t.Errorf("auto-approved notice: %+v %v", sn, err)
	}
	sn, _ = f.svc.SubjectNotice(t.Context(), "acme", inc.ID)
	if sn.Approved {
		t.Error("acme approved nothing")
	}
	if _, err := f.svc.ApproveSubjectNotice(t.Context(), "acme", inc.ID, "admin:alice"); err != nil {
		t.Fatal(err)
	}
	sn, _ = f.svc.SubjectNotice(t.Context(), "acme", inc.ID)
	if !sn.Approved || sn.ApprovedAt.IsZero() {
		t.Errorf("after approval: %+v", sn)
	}
	if _, err := f.svc.SubjectNotice(t.Context(), "acme", "inc_nope"); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("unknown incident: %v, want ErrNotFound", err)
	}
}

func TestAuthorityReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"))
	d := declaration()
	d.Tenants = []string{"acme"}
	d.Jurisdictions = []string{"eu-gdpr", "us-tx"}
	d.Residents = map[string]int64{"us-tx": 400}
	d.DelayReason = "forensics needed to confirm personal data was affected"
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.add(80 * time.Hour)
	rep, err := f.svc.Report(t.Context(), "acme", inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Nature == "" || rep.SubjectsApprox != 1200 || rep.RecordsApprox != 5000 || rep.Contact == "" || rep.Measures == "" || rep.Consequences == "" {
		t.Errorf("Art. 33(3) content missing: %+v", rep)
	}
	if len(rep.DelayReasons) < 2 {
		t.Errorf("delay reasons: %v (the stated one and the overdue GDPR clock)", rep.DelayReasons)
	}
	text := rep.Text()
	for _, want := range []string{"(a) nature of the breach", "US-TX-AG", "eu-gdpr-authority", "Reasons for delay", "forensics"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if _, err := f.svc.Report(t.Context(), "other", inc.ID); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("another tenant's report: %v", err)
	}
}

func TestAckLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tenantWith("acme", "en", "db"), tenantWith("beta", "en", "db"))
	d := declaration()
	d.Tenants = []string{"acme", "beta"}
	inc, _, err := f.svc.Declare(t.Context(), d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	link := f.svc.AckLink("acme", inc.ID, 1)
	sig := link[strings.LastIndex(link, "sig=")+4:]
	if _, err := f.svc.AcknowledgeByLink(t.Context(), "beta", inc.ID, 1, sig); err == nil {
		t.Error("acme's link acknowledged beta's notice")
	}
	if _, err := f.svc.AcknowledgeByLink(t.Context(), "acme", inc.ID, 1, sig[:len(sig)-1]+"0"); err == nil {
		t.Error("a forged signature was accepted")
	}
	n, err := f.svc.AcknowledgeByLink(t.Context(), "acme", inc.ID, 1, sig)
	if err != nil || n.AcknowledgedBy != "link" {
		t.Fatalf("ack by link: %v %v", n, err)
	}
	beta, _ := f.svc.Notice(t.Context(), "beta", inc.ID)
	if !beta.AcknowledgedAt.IsZero() {
		t.Error("beta acknowledged too")
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
