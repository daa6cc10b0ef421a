package breach_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
)

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
