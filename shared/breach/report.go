package breach

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AuthorityReport is what a tenant (the controller) files with its
// authorities, assembled from its notice: the GDPR Art. 33(3) content, the
// headings other regimes ask for, the timeline, every clock and the reasons
// for any delay (Art. 33(1): a notice after 72 h gives them; LGPD Art. 48
// §1 V likewise).
type AuthorityReport struct {
	TenantID    string    `json:"tenantId"`
	IncidentID  string    `json:"incidentId"`
	Version     int       `json:"version"`
	GeneratedAt time.Time `json:"generatedAt"`
	// GDPR Art. 33(3)(a)-(d).
	Nature         string   `json:"nature"`
	Categories     []string `json:"categories"`
	SubjectGroups  []string `json:"subjectGroups"`
	SubjectsApprox int64    `json:"subjectsApprox"`
	RecordsApprox  int64    `json:"recordsApprox"`
	Contact        string   `json:"contact"`
	Consequences   string   `json:"consequences"`
	Measures       string   `json:"measures"`
	Risk           string   `json:"risk"`
	Cause          string   `json:"cause,omitempty"`
	Jurisdictions  []string `json:"jurisdictions"`
	// Timeline: the processor's detection and awareness, the notice to the
	// controller (its awareness) and its acknowledgement.
	Timeline     Timeline         `json:"timeline"`
	Clocks       []Clock          `json:"clocks"`
	DelayReasons []string         `json:"delayReasons"`
	Phases       []Report         `json:"phases"`
	Regimes      []RegimeHeadings `json:"regimes"`
}

// Timeline is the incident's timestamps as the controller reports them.
type Timeline struct {
	DetectedAt       time.Time `json:"detectedAt"`
	ProcessorAwareAt time.Time `json:"processorAwareAt"`
	ControllerAware  time.Time `json:"controllerAwareAt,omitzero"`
	AcknowledgedAt   time.Time `json:"acknowledgedAt,omitzero"`
}

// RegimeHeadings are the content headings a regime asks for, each with the
// text the report fills it with.
type RegimeHeadings struct {
	Regime   string    `json:"regime"`
	Source   string    `json:"source"`
	Headings []Heading `json:"headings"`
}

// Heading is one heading and its content.
type Heading struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Report assembles the tenant's authority report of an incident.
func (s *Service) Report(ctx context.Context, tenantID, id string) (AuthorityReport, error) {
	n, err := s.Notice(ctx, tenantID, id)
	if err != nil {
		return AuthorityReport{}, err
	}
	clocks, err := s.Clocks(ctx, n)
	if err != nil {
		return AuthorityReport{}, err
	}
	f := n.Facts
	r := AuthorityReport{TenantID: tenantID, IncidentID: n.IncidentID, Version: n.Version, GeneratedAt: s.now(),
		Nature: f.Nature, Categories: nonNil(f.Categories), SubjectGroups: nonNil(f.SubjectGroups), SubjectsApprox: f.SubjectsApprox,
		RecordsApprox: f.RecordsApprox, Contact: f.Contact, Consequences: f.Consequences, Measures: f.Measures, Risk: f.Risk,
		Cause: f.Cause, Jurisdictions: nonNil(n.Jurisdictions), Clocks: clocks, Phases: n.Reports, DelayReasons: []string{},
		Timeline: Timeline{DetectedAt: n.DetectedAt, ProcessorAwareAt: n.AwareAt, ControllerAware: n.NotifiedAt, AcknowledgedAt: n.AcknowledgedAt}}
	if f.DelayReason != "" {
		r.DelayReasons = append(r.DelayReasons, f.DelayReason)
	}
	for _, c := range clocks {
		switch c.Status {
		case ClockOverdue, ClockLate:
			r.DelayReasons = append(r.DelayReasons, fmt.Sprintf("%s (%s, due %s) is %s", c.ID, c.Duration, c.DueAt.UTC().Format(time.RFC3339), c.Status))
		}
		if c.Party == PartyProcessor && c.Status == ClockLate {
			r.DelayReasons = append(r.DelayReasons, fmt.Sprintf("the processor notified the controller %s after becoming aware",
				n.NotifiedAt.Sub(n.AwareAt).Round(time.Minute)))
		}
	}
	r.Regimes = headings(n, f)
	return r, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// headings fills the content headings of each regime the incident touches.
func headings(n *Notice, f Facts) []RegimeHeadings {
	cats := strings.Join(f.Categories, ", ")
	num := strconv.FormatInt(f.SubjectsApprox, 10)
	out := []RegimeHeadings{{Regime: "gdpr", Source: "GDPR Art 33(3) [P] https://gdprhub.eu/Article_33_GDPR", Headings: []Heading{
		{"(a) nature of the breach, categories and approximate number of data subjects and of records",
			fmt.Sprintf("%s. Data: %s. Data subjects: about %d (%s). Records: about %d.", f.Nature, cats, f.SubjectsApprox,
				strings.Join(f.SubjectGroups, ", "), f.RecordsApprox)},
		{"(b) name and contact details of the DPO or other contact point", f.Contact},
		{"(c) likely consequences", f.Consequences},
		{"(d) measures taken or proposed, including mitigation", f.Measures},
	}}}
	if slices.Contains(n.Jurisdictions, "br-lgpd") {
		out = append(out, RegimeHeadings{Regime: "br-lgpd", Source: "LGPD Art 48 §1 I-VI [P] https://compliance.mspa.com.br/regulamentos/lgpd/artigo-48",
			Headings: []Heading{{"I description of the personal data affected", cats}, {"II data subjects involved", "about " + num},
				{"III technical and security measures used", f.Measures}, {"IV risks", f.Consequences},
				{"V reasons for any delay", f.DelayReason}, {"VI measures to reverse or mitigate", f.Measures}}})
	}
	if slices.Contains(n.Jurisdictions, "cn") {
		out = append(out, RegimeHeadings{Regime: "cn-pipl", Source: "PIPL Art 57 [P] https://personalinformationprotectionlaw.com/PIPL/article-57/",
			Headings: []Heading{{"types of personal information, causes and possible harm", cats + "; " + f.Cause + "; " + f.Consequences},
				{"remedial measures and steps individuals can take", f.Measures}, {"contact details", f.Contact}}})
	}
	if slices.Contains(n.Jurisdictions, "us-tx") {
		tx := "unknown"
		if v, ok := f.Residents["us-tx"]; ok {
			tx = strconv.FormatInt(v, 10)
		}
		out = append(out, RegimeHeadings{Regime: "us-tx-ag", Source: "Tex. Bus. & Com. Code 521.053(i) (SB 768) [P] https://legiscan.com/TX/text/SB768/id/2808752/Texas-2023-SB768-Enrolled.html",
			Headings: []Heading{{"(1) nature and circumstances of the breach", f.Nature}, {"(2) Texas residents affected", tx},
				{"(3) residents sent a disclosure by mail or other direct method", "to be filled by the controller"},
				{"(4) measures taken", f.Measures}, {"(5) measures intended after the notice", f.Measures},
				{"(6) whether law enforcement is investigating", "to be filled by the controller"}}})
	}
	return out
}

// Text renders the report as readable text for filing.
func (r AuthorityReport) Text() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("Personal data breach report: incident %s, version %d (tenant %s)", r.IncidentID, r.Version, r.TenantID)
	w("Generated %s", r.GeneratedAt.UTC().Format(time.RFC3339))
	w("")
	w("Timeline")
	w("  detected by the processor: %s", r.Timeline.DetectedAt.UTC().Format(time.RFC3339))
	w("  processor aware:           %s", r.Timeline.ProcessorAwareAt.UTC().Format(time.RFC3339))
	if !r.Timeline.ControllerAware.IsZero() {
		w("  controller aware (notice): %s", r.Timeline.ControllerAware.UTC().Format(time.RFC3339))
	}
	if !r.Timeline.AcknowledgedAt.IsZero() {
		w("  acknowledged:              %s", r.Timeline.AcknowledgedAt.UTC().Format(time.RFC3339))
	}
	for _, rg := range r.Regimes {
		w("")
		w("%s (%s)", strings.ToUpper(rg.Regime), rg.Source)
		for _, h := range rg.Headings {
			w("  %s:", h.Title)
			w("    %s", h.Text)
		}
	}
	w("")
	w("Clocks")
	for _, c := range r.Clocks {
		due := "-"
		if !c.DueAt.IsZero() {
			due = c.DueAt.UTC().Format(time.RFC3339)
		}
		w("  %s [%s, %s to %s]: %s, due %s (%s)", c.ID, c.Party, c.Duration, c.Obligation, c.Status, due, c.Source)
	}
	w("")
	w("Reasons for delay")
	if len(r.DelayReasons) == 0 {
		w("  none")
	}
	for _, d := range r.DelayReasons {
		w("  %s", d)
	}
	w("")
	w("Phased reports (GDPR Art 33(4))")
	for _, p := range r.Phases {
		w("  v%d %s: %s", p.Version, p.At.UTC().Format(time.RFC3339), p.Summary)
	}
	return b.String()
}
