package breach

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEmbeddedRulesLoad(t *testing.T) {
	t.Parallel()
	if _, err := LoadRules(clocksJSON); err != nil {
		t.Fatal(err)
	}
}

func TestAddBusinessDays(t *testing.T) {
	t.Parallel()
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	tests := []struct {
		name string
		at   time.Time
		n    int
		want time.Time
	}{
		// Brazil has no DST since 2019: UTC-3 all year.
		{"friday evening: monday to wednesday", time.Date(2030, 1, 4, 22, 0, 0, 0, time.UTC), 3, time.Date(2030, 1, 10, 2, 59, 59, 0, time.UTC)},
		{"late friday UTC is still friday in Sao Paulo", time.Date(2030, 1, 5, 2, 0, 0, 0, time.UTC), 3, time.Date(2030, 1, 10, 2, 59, 59, 0, time.UTC)},
		{"saturday counts from monday", time.Date(2030, 1, 5, 12, 0, 0, 0, time.UTC), 3, time.Date(2030, 1, 10, 2, 59, 59, 0, time.UTC)},
		{"monday: thursday", time.Date(2030, 1, 7, 12, 0, 0, 0, time.UTC), 3, time.Date(2030, 1, 11, 2, 59, 59, 0, time.UTC)},
		{"20 business days: four weeks", time.Date(2030, 1, 7, 12, 0, 0, 0, time.UTC), 20, time.Date(2030, 2, 5, 2, 59, 59, 0, time.UTC)},
		{"across a month end", time.Date(2030, 1, 31, 15, 0, 0, 0, time.UTC), 3, time.Date(2030, 2, 6, 2, 59, 59, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := AddBusinessDays(tc.at, tc.n, sp); !got.Equal(tc.want) {
				t.Errorf("AddBusinessDays(%s, %d) = %s, want %s", tc.at, tc.n, got, tc.want)
			}
		})
	}
}

func clockByID(cs []Clock, id string) *Clock {
	for i := range cs {
		if cs[i].ID == id {
			return &cs[i]
		}
	}
	return nil
}

func TestClocks(t *testing.T) {
	t.Parallel()
	rules := DefaultRules()
	aware := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	notified := aware.Add(3 * time.Hour)
	base := func() *Incident {
		return &Incident{DetectedAt: aware.Add(-time.Hour), AwareAt: aware, Facts: Facts{Risk: RiskLow}}
	}
	type want struct {
		id, status, due string
	}
	tests := []struct {
		name   string
		inc    func(*Incident)
		notice *Notice
		input  ClockInput
		now    time.Time
		want   []want
		absent []string
	}{
		{name: "GDPR 72 h from the controller's awareness, the processor's SLA met",
			inc:    func(i *Incident) { i.Jurisdictions = []string{"eu-gdpr"} },
			notice: &Notice{NotifiedAt: notified}, input: ClockInput{SLAHours: 24}, now: notified.Add(time.Hour),
			want: []want{{"processor-sla", ClockMet, "2030-02-01T02:00:00Z"}, {"eu-gdpr-authority", ClockRunning, "2030-02-03T05:00:00Z"}}},
		{name: "GDPR 72 h are 72 real hours across the EU DST change (31 Mar 2030)",
			inc:    func(i *Incident) { i.Jurisdictions = []string{"eu-gdpr"} },
			notice: &Notice{NotifiedAt: time.Date(2030, 3, 29, 12, 0, 0, 0, time.FixedZone("CET", 3600))}, now: time.Date(2030, 3, 30, 0, 0, 0, 0, time.UTC),
			want: []want{{"eu-gdpr-authority", ClockRunning, "2030-04-01T11:00:00Z"}}},
		{name: "GDPR not applicable when no risk (Art. 33(1))",
			inc:    func(i *Incident) { i.Jurisdictions = []string{"eu-gdpr"}; i.Risk = RiskNone },
			notice: &Notice{NotifiedAt: notified}, now: notified,
			want: []want{{"eu-gdpr-authority", ClockNotApplicable, ""}}},
		{name: "awaiting the trigger until the tenant is notified; SLA overdue",
			inc:    func(i *Incident) { i.Jurisdictions = []string{"uk-gdpr"} },
			notice: &Notice{}, input: ClockInput{SLAHours: 12}, now: aware.Add(13 * time.Hour),
			want: []want{{"processor-sla", ClockOverdue, "2030-01-31T14:00:00Z"}, {"uk-gdpr-authority", ClockAwaitingTrigger, ""}}},
		{name: "UK PECR 24 h before 20 Aug 2025",
			inc: func(i *Incident) {
				i.Jurisdictions = []string{"uk-pecr"}
				i.DetectedAt = time.Date(2025, 8, 19, 23, 0, 0, 0, time.UTC)
			},
			notice: &Notice{NotifiedAt: time.Date(2025, 8, 20, 1, 0, 0, 0, time.UTC)}, now: time.Date(2025, 8, 20, 2, 0, 0, 0, time.UTC),
			want: []want{{"uk-pecr-ico", ClockRunning, "2025-08-21T01:00:00Z"}}},
		{name: "UK PECR 72 h from 20 Aug 2025",
			inc: func(i *Incident) {
				i.Jurisdictions = []string{"uk-pecr"}
				i.DetectedAt = time.Date(2025, 8, 20, 0, 0, 0, 0, time.UTC)
			},
			notice: &Notice{NotifiedAt: time.Date(2025, 8, 20, 1, 0, 0, 0, time.UTC)}, now: time.Date(2025, 8, 20, 2, 0, 0, 0, time.UTC),
			want: []want{{"uk-pecr-ico", ClockRunning, "2025-08-23T01:00:00Z"}}},
		{name: "LGPD 3 business days, supplement 20, small agent doubles the initial ones",
			inc:    func(i *Incident) { i.Jurisdictions = []string{"br-lgpd"} },
			notice: &Notice{NotifiedAt: notified}, input: ClockInput{SmallAgent: true}, now: notified,
			// Notified Thu 31 Jan 2030 02:00 in Sao Paulo: 6 business days
			// end Fri 8 Feb; the supplement (not doubled) 20 end Thu 28 Feb.
			want: []want{{"br-lgpd-anpd", ClockRunning, "2030-02-09T02:59:59Z"}, {"br-lgpd-subjects", ClockRunning, "2030-02-09T02:59:59Z"},
				{"br-lgpd-supplement", ClockRunning, "2030-03-01T02:59:59Z"}}},
		{name: "LGPD business days skip Brazil's national holidays (20 Nov 2026, a Friday)",
			inc: func(i *Incident) {
				i.Jurisdictions = []string{"br-lgpd"}
				i.DetectedAt = time.Date(2026, 11, 18, 14, 0, 0, 0, time.UTC)
			},
			// Notified Wed 18 Nov 12:00 in Sao Paulo: Thu 19, Mon 23, Tue 24.
			notice: &Notice{NotifiedAt: time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)}, now: time.Date(2026, 11, 18, 16, 0, 0, 0, time.UTC),
			want: []want{{"br-lgpd-anpd", ClockRunning, "2026-11-25T02:59:59Z"}}},
		// Notified 30 Jan 23:00 CST; 60 days later is 31 Mar 23:00 CDT (DST from 10 Mar).
		{name: "Texas AG at 250 residents (inclusive); residents across DST",
			inc: func(i *Incident) {
				i.Jurisdictions = []string{"us-tx"}
				i.Residents = map[string]int64{"us-tx": 250}
			},
			notice: &Notice{NotifiedAt: notified}, now: notified,
			want: []want{{"us-tx-ag", ClockRunning, "2030-03-02T05:00:00Z"}, {"us-tx-residents", ClockRunning, "2030-04-01T04:00:00Z"}}},
		{name: "Texas AG not applicable at 249",
			inc: func(i *Incident) {
				i.Jurisdictions = []string{"us-tx"}
				i.Residents = map[string]int64{"us-tx": 249}
			},
			notice: &Notice{NotifiedAt: notified}, now: notified,
			want: []want{{"us-tx-ag", ClockNotApplicable, ""}}},
		{name: "New York 30 days across the DST change keeps the wall-clock hour",
			inc: func(i *Incident) {
				i.Jurisdictions = []string{"us-ny"}
				i.DetectedAt = time.Date(2030, 2, 28, 17, 0, 0, 0, time.UTC)
				i.AwareAt = i.DetectedAt
			},
			// 1 Mar 2030 12:00 EST = 17:00Z; 31 Mar 12:00 EDT = 16:00Z.
			notice: &Notice{NotifiedAt: time.Date(2030, 3, 1, 17, 0, 0, 0, time.UTC)}, now: time.Date(2030, 3, 2, 0, 0, 0, 0, time.UTC),
			want: []want{{"us-ny-vendor", ClockMet, "2030-03-30T16:00:00Z"}, {"us-ny-residents", ClockRunning, "2030-03-31T16:00:00Z"}}},
		{name: "Florida agent 10 days from the processor's determination",
			inc: func(i *Incident) {
				i.Jurisdictions = []string{"us-fl"}
				i.DeterminedAt = time.Date(2030, 1, 10, 12, 0, 0, 0, time.UTC)
			},
			notice: &Notice{}, now: time.Date(2030, 1, 21, 0, 0, 0, 0, time.UTC),
			want: []want{{"us-fl-vendor", ClockOverdue, "2030-01-20T12:00:00Z"}, {"us-fl-dla", "", ""}}},
		{name: "California 30 days only for incidents from 1 Jan 2026",
			inc: func(i *Incident) {
				i.Jurisdictions = []string{"us-ca"}
				i.DetectedAt = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
			},
			notice: &Notice{NotifiedAt: notified}, now: notified, absent: []string{"us-ca-residents"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inc := base()
			tc.inc(inc)
			in := tc.input
			in.Notice = tc.notice
			got := rules.Compute(inc, in, tc.now)
			for _, w := range tc.want {
				c := clockByID(got, w.id)
				if c == nil {
					t.Fatalf("no clock %s in %v", w.id, got)
				}
				due := ""
				if !c.DueAt.IsZero() {
					due = c.DueAt.UTC().Format(time.RFC3339)
				}
				if w.status == "" {
					w.status = c.Status // only the presence is checked
				}
				if diff := cmp.Diff(w, want{c.ID, c.Status, due}, cmp.AllowUnexported(want{})); diff != "" {
					t.Errorf("clock %s (-want +got):\n%s", w.id, diff)
				}
				if c.Source == "" {
					t.Errorf("clock %s has no source", w.id)
				}
			}
			for _, id := range tc.absent {
				if clockByID(got, id) != nil {
					t.Errorf("clock %s should not apply", id)
				}
			}
		})
	}
}

func TestCACClockByOperatorClass(t *testing.T) {
	t.Parallel()
	det := time.Date(2030, 6, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		class, grade, id, due, status string
	}{
		{ClassCII, GradeRelativelyMajor, "cn-cac-cii", "2030-06-01T09:00:00Z", ClockRunning},
		{ClassStateOrgan, GradeMajor, "cn-cac-state-organ", "2030-06-01T10:00:00Z", ClockRunning},
		{"", GradeEspeciallyMajor, "cn-cac-other", "2030-06-01T12:00:00Z", ClockRunning},
		{ClassOther, GradeGeneral, "cn-cac-other", "", ClockNotApplicable},
	}
	for _, tc := range tests {
		t.Run(tc.class+"/"+tc.grade, func(t *testing.T) {
			t.Parallel()
			inc := &Incident{DetectedAt: det, AwareAt: det, Jurisdictions: []string{"cn"}, Grade: tc.grade, OperatorClass: tc.class}
			got := DefaultRules().Compute(inc, ClockInput{}, det.Add(30*time.Minute))
			if len(got) != 1 {
				t.Fatalf("got %d clocks, want 1: %v", len(got), got)
			}
			due := ""
			if !got[0].DueAt.IsZero() {
				due = got[0].DueAt.Format(time.RFC3339)
			}
			if diff := cmp.Diff([]string{tc.id, tc.due, tc.status}, []string{got[0].ID, due, got[0].Status}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
