package deadline

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// summary is what the table tests compare: dates in the tenant's zone and flags.
type summary struct {
	Regime   string
	Due      string
	Initial  string
	Extended bool
	Allowed  bool
	Paused   bool
}

func summarize(d Deadline) summary {
	return summary{d.Regime, d.DueDate, d.InitialAt.Format(time.DateOnly), d.Extended, d.ExtensionAllowed, d.Paused}
}

func mustZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// day is noon on a calendar day in loc: far from midnight, so the zone never
// shifts the date.
func day(loc *time.Location, y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 12, 0, 0, 0, loc)
}

func TestComputeSingleRegime(t *testing.T) {
	t.Parallel()
	paris := mustZone(t, "Europe/Paris")
	london := mustZone(t, "Europe/London")
	la := mustZone(t, "America/Los_Angeles")
	sp := mustZone(t, "America/Sao_Paulo")
	sh := mustZone(t, "Asia/Shanghai")
	eu := func(y int, m time.Month, d int) Input {
		return Input{Regimes: []string{RegimeEUGDPR}, Type: "access", Location: paris, ReceivedAt: day(paris, y, m, d)}
	}
	uk := func(y int, m time.Month, d int) Input {
		return Input{Regimes: []string{RegimeUKGDPR}, Type: "access", Location: london, ReceivedAt: day(london, y, m, d)}
	}
	us := func(regime, typ string, y int, m time.Month, d int) Input {
		return Input{Regimes: []string{regime}, Type: typ, Location: la, ReceivedAt: day(la, y, m, d), DefaultDays: 30}
	}
	with := func(in Input, f func(*Input)) Input { f(&in); return in }
	noticed := func(t time.Time) func(*Input) { return func(in *Input) { in.ExtensionNoticedAt = t } }
	pauses := func(ps ...Pause) func(*Input) { return func(in *Input) { in.Pauses = ps } }

	tests := []struct {
		name string
		in   Input
		want summary
	}{
		// GDPR Art. 12(3): one month, clamped at month end (§E.1).
		{"eu 31 Jan non-leap", eu(2030, 1, 31), summary{"eu-gdpr", "2030-02-28", "2030-02-28", false, true, false}},
		{"eu 31 Jan leap", eu(2028, 1, 31), summary{"eu-gdpr", "2028-02-29", "2028-02-29", false, true, false}},
		{"eu 29 Feb", eu(2028, 2, 29), summary{"eu-gdpr", "2028-03-29", "2028-03-29", false, true, false}},
		{"eu 31 Dec to 31 Jan", eu(2030, 12, 31), summary{"eu-gdpr", "2031-01-31", "2031-01-31", false, true, false}},
		{"eu 31 Aug to 30 Sep", eu(2030, 8, 31), summary{"eu-gdpr", "2030-09-30", "2030-09-30", false, true, false}},
		{"eu 3 Sep to 3 Oct, not the day-after convention", eu(2030, 9, 3), summary{"eu-gdpr", "2030-10-03", "2030-10-03", false, true, false}},
		{"eu due on a Saturday is not rolled", eu(2030, 1, 2), summary{"eu-gdpr", "2030-02-02", "2030-02-02", false, true, false}},
		{"eu extension at month end is 3 months from receipt", with(eu(2030, 1, 31), noticed(day(paris, 2030, 2, 10))),
			summary{"eu-gdpr", "2030-04-30", "2030-02-28", true, true, false}},
		{"eu extension noticed at the last second", with(eu(2030, 1, 31), noticed(time.Date(2030, 2, 28, 23, 59, 59, 0, paris))),
			summary{"eu-gdpr", "2030-04-30", "2030-02-28", true, true, false}},
		{"eu extension noticed too late is lost", with(eu(2030, 1, 31), noticed(time.Date(2030, 3, 1, 0, 0, 0, 0, paris))),
			summary{"eu-gdpr", "2030-02-28", "2030-02-28", false, true, false}},
		{"eu ignores pauses", with(eu(2030, 1, 10), pauses(Pause{From: day(paris, 2030, 1, 15), To: day(paris, 2030, 1, 20)})),
			summary{"eu-gdpr", "2030-02-10", "2030-02-10", false, true, false}},

		// UK GDPR Art. 12A / ICO: latest start, working-day roll-forward, stop-the-clock.
		{"uk Saturday rolls to Monday", uk(2030, 1, 2), summary{"uk-gdpr", "2030-02-04", "2030-02-04", false, true, false}},
		{"uk Christmas and Boxing Day", uk(2030, 11, 25), summary{"uk-gdpr", "2030-12-27", "2030-12-27", false, true, false}},
		{"uk Boxing Day", uk(2030, 11, 26), summary{"uk-gdpr", "2030-12-27", "2030-12-27", false, true, false}},
		{"uk Christmas on Saturday, substitutes 27 and 28", uk(2027, 11, 25), summary{"uk-gdpr", "2027-12-29", "2027-12-29", false, true, false}},
		{"uk New Year on Saturday, substitute Monday", uk(2027, 12, 1), summary{"uk-gdpr", "2028-01-04", "2028-01-04", false, true, false}},
		{"uk Good Friday to Tuesday after Easter", uk(2030, 3, 19), summary{"uk-gdpr", "2030-04-23", "2030-04-23", false, true, false}},
		{"uk Easter Monday", uk(2030, 3, 22), summary{"uk-gdpr", "2030-04-23", "2030-04-23", false, true, false}},
		{"uk 2022 spring holiday moved to 2 June, jubilee 3 June", uk(2022, 5, 2), summary{"uk-gdpr", "2022-06-06", "2022-06-06", false, true, false}},
		{"uk 30 May 2022 was a working day", uk(2022, 4, 30), summary{"uk-gdpr", "2022-05-30", "2022-05-30", false, true, false}},
		{"uk starts when identity arrives", with(uk(2030, 1, 10), func(in *Input) { in.IdentityVerifiedAt = day(london, 2030, 1, 20) }),
			summary{"uk-gdpr", "2030-02-20", "2030-02-20", false, true, false}},
		{"uk pause adds the stopped days, both ends included",
			with(uk(2030, 3, 1), pauses(Pause{From: day(london, 2030, 3, 5), To: day(london, 2030, 3, 8)})),
			summary{"uk-gdpr", "2030-04-05", "2030-04-05", false, true, false}},
		{"uk pause also moves the notice window",
			with(uk(2030, 3, 1), func(in *Input) {
				in.Pauses = []Pause{{From: day(london, 2030, 3, 5), To: day(london, 2030, 3, 8)}}
				in.ExtensionNoticedAt = day(london, 2030, 4, 3) // after 1 Apr, before 5 Apr
			}),
			summary{"uk-gdpr", "2030-06-05", "2030-04-05", true, true, false}},
		{"uk overlapping pauses count each day once",
			with(uk(2030, 3, 1), pauses(Pause{From: day(london, 2030, 3, 5), To: day(london, 2030, 3, 7)},
				Pause{From: day(london, 2030, 3, 6), To: day(london, 2030, 3, 8)})),
			summary{"uk-gdpr", "2030-04-05", "2030-04-05", false, true, false}},
		{"uk open pause counts to now",
			with(uk(2030, 3, 1), func(in *Input) {
				in.Pauses = []Pause{{From: day(london, 2030, 3, 5)}}
				in.Now = day(london, 2030, 3, 6)
			}),
			summary{"uk-gdpr", "2030-04-03", "2030-04-03", false, true, true}},
		{"uk pause before the clock started is ignored",
			with(uk(2030, 3, 1), func(in *Input) {
				in.IdentityVerifiedAt = day(london, 2030, 3, 10)
				in.Pauses = []Pause{{From: day(london, 2030, 3, 5), To: day(london, 2030, 3, 8)}}
			}),
			summary{"uk-gdpr", "2030-04-10", "2030-04-10", false, true, false}},
		{"uk pause after the first period only moves the extended deadline",
			with(uk(2030, 3, 1), func(in *Input) {
				in.Pauses = []Pause{{From: day(london, 2030, 4, 10), To: day(london, 2030, 4, 12)}}
				in.ExtensionNoticedAt = day(london, 2030, 3, 20)
			}),
			summary{"uk-gdpr", "2030-06-04", "2030-04-01", true, true, false}},
		{"uk extension at month end", with(uk(2030, 1, 31), noticed(day(london, 2030, 2, 1))),
			summary{"uk-gdpr", "2030-04-30", "2030-02-28", true, true, false}},

		// CCPA / VCDPA / CPA: 45 calendar days from receipt, +45 once, no pause.
		{"ccpa 45 days", us(RegimeCCPA, "erase", 2030, 1, 1), summary{"us-ca-ccpa", "2030-02-15", "2030-02-15", false, true, false}},
		{"ccpa +45 with notice in time", with(us(RegimeCCPA, "access", 2030, 1, 1), noticed(day(la, 2030, 2, 10))),
			summary{"us-ca-ccpa", "2030-04-01", "2030-02-15", true, true, false}},
		{"ccpa notice on day 46 is too late", with(us(RegimeCCPA, "access", 2030, 1, 1), noticed(day(la, 2030, 2, 16))),
			summary{"us-ca-ccpa", "2030-02-15", "2030-02-15", false, true, false}},
		{"ccpa ignores verification and pauses", with(us(RegimeCCPA, "access", 2030, 1, 1), func(in *Input) {
			in.IdentityVerifiedAt = day(la, 2030, 1, 20)
			in.Pauses = []Pause{{From: day(la, 2030, 1, 5), To: day(la, 2030, 1, 25)}}
		}), summary{"us-ca-ccpa", "2030-02-15", "2030-02-15", false, true, false}},
		{"ccpa opt-out 15 business days across Thanksgiving", us(RegimeCCPA, "object", 2030, 11, 20),
			summary{"us-ca-ccpa", "2030-12-12", "2030-12-12", false, false, false}},
		{"ccpa opt-out cannot be extended", with(us(RegimeCCPA, "object", 2030, 11, 20), noticed(day(la, 2030, 11, 21))),
			summary{"us-ca-ccpa", "2030-12-12", "2030-12-12", false, false, false}},
		{"ccpa restrict has no deadline: tenant policy", us(RegimeCCPA, "restrict", 2030, 1, 1),
			summary{"tenant-policy", "2030-01-31", "2030-01-31", false, false, false}},
		{"vcdpa 45 days", us(RegimeVCDPA, "access", 2030, 1, 1), summary{"us-va-vcdpa", "2030-02-15", "2030-02-15", false, true, false}},
		{"cpa +45", with(us(RegimeCPA, "object", 2030, 1, 1), noticed(day(la, 2030, 1, 2))),
			summary{"us-co-cpa", "2030-04-01", "2030-02-15", true, true, false}},
		{"cpa not yet in force on 30 Jun 2023", us(RegimeCPA, "access", 2023, 6, 30),
			summary{"tenant-policy", "2023-07-30", "2023-07-30", false, false, false}},

		// LGPD Art. 19 II: 15 days, doubled for small agents, no extension.
		{"lgpd access 15 days", Input{Regimes: []string{RegimeLGPD}, Type: "access", Location: sp, ReceivedAt: day(sp, 2030, 3, 1),
			ExtensionNoticedAt: day(sp, 2030, 3, 2)}, summary{"br-lgpd", "2030-03-16", "2030-03-16", false, false, false}},
		{"lgpd small agent doubles", Input{Regimes: []string{RegimeLGPD}, Type: "export", Location: sp, ReceivedAt: day(sp, 2030, 3, 1),
			LGPDSmallAgent: true}, summary{"br-lgpd", "2030-03-31", "2030-03-31", false, false, false}},
		{"lgpd small agent before Res. 2/2022", Input{Regimes: []string{RegimeLGPD}, Type: "access", Location: sp, ReceivedAt: day(sp, 2021, 6, 1),
			LGPDSmallAgent: true}, summary{"br-lgpd", "2021-06-16", "2021-06-16", false, false, false}},
		{"lgpd erase has no deadline: tenant policy", Input{Regimes: []string{RegimeLGPD}, Type: "erase", Location: sp, ReceivedAt: day(sp, 2030, 3, 1),
			DefaultDays: 30}, summary{"tenant-policy", "2030-03-31", "2030-03-31", false, false, false}},

		// PIPL: tenant days from verification.
		{"pipl from verification", Input{Regimes: []string{RegimePIPL}, Type: "access", Location: sh, ReceivedAt: day(sh, 2030, 3, 1),
			IdentityVerifiedAt: day(sh, 2030, 3, 5), PIPLDays: 30}, summary{"cn-pipl", "2030-04-04", "2030-04-04", false, false, false}},
		{"pipl from receipt while unverified", Input{Regimes: []string{RegimePIPL}, Type: "erase", Location: sh, ReceivedAt: day(sh, 2030, 3, 1),
			PIPLDays: 30}, summary{"cn-pipl", "2030-03-31", "2030-03-31", false, false, false}},
		{"pipl before 1 Nov 2021: tenant policy", Input{Regimes: []string{RegimePIPL}, Type: "access", Location: sh, ReceivedAt: day(sh, 2021, 10, 31),
			PIPLDays: 30, DefaultDays: 20}, summary{"tenant-policy", "2021-11-20", "2021-11-20", false, false, false}},
		{"no regime: tenant policy", Input{Type: "access", Location: la, ReceivedAt: day(la, 2030, 1, 31), DefaultDays: 28},
			summary{"tenant-policy", "2030-02-28", "2030-02-28", false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Compute(tt.in)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(got.Deadline)); diff != "" {
				t.Errorf("deadline mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestComputeSeveralRegimes(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	tests := []struct {
		name string
		in   Input
		want []summary // earliest first; want[0] is the result
	}{
		{"eu beats ccpa", Input{Regimes: []string{RegimeCCPA, RegimeEUGDPR}, Type: "access", Location: utc, ReceivedAt: day(utc, 2030, 1, 31)},
			[]summary{{"eu-gdpr", "2030-02-28", "2030-02-28", false, true, false}, {"us-ca-ccpa", "2030-03-17", "2030-03-17", false, true, false}}},
		{"both extended: eu still first", Input{Regimes: []string{RegimeEUGDPR, RegimeCCPA}, Type: "access", Location: utc,
			ReceivedAt: day(utc, 2030, 1, 31), ExtensionNoticedAt: day(utc, 2030, 2, 20)},
			[]summary{{"eu-gdpr", "2030-04-30", "2030-02-28", true, true, false}, {"us-ca-ccpa", "2030-05-01", "2030-03-17", true, true, false}}},
		{"uk paused 20 days: ccpa wins", Input{Regimes: []string{RegimeUKGDPR, RegimeCCPA}, Type: "access", Location: utc,
			ReceivedAt: day(utc, 2030, 1, 10), Pauses: []Pause{{From: day(utc, 2030, 1, 11), To: day(utc, 2030, 1, 30)}}},
			[]summary{{"us-ca-ccpa", "2030-02-24", "2030-02-24", false, true, false}, {"uk-gdpr", "2030-03-04", "2030-03-04", false, true, false}}},
		{"lgpd erase drops out, eu remains", Input{Regimes: []string{RegimeLGPD, RegimeEUGDPR}, Type: "erase", Location: utc, ReceivedAt: day(utc, 2030, 3, 1)},
			[]summary{{"eu-gdpr", "2030-04-01", "2030-04-01", false, true, false}}},
		{"tie goes to the first regime listed, repeats ignored", Input{Regimes: []string{RegimeUKGDPR, RegimeEUGDPR, RegimeUKGDPR}, Type: "access",
			Location: utc, ReceivedAt: day(utc, 2030, 3, 5)},
			[]summary{{"uk-gdpr", "2030-04-05", "2030-04-05", false, true, false}, {"eu-gdpr", "2030-04-05", "2030-04-05", false, true, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Compute(tt.in)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			var all []summary
			for _, d := range got.All {
				all = append(all, summarize(d))
			}
			if diff := cmp.Diff(tt.want, all); diff != "" {
				t.Errorf("All mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got.All[0], got.Deadline); diff != "" {
				t.Errorf("result is not the earliest (-want +got):\n%s", diff)
			}
		})
	}
}

// The due instant is the end of the due day in the tenant's zone, whatever the
// UTC offset on receipt or due day.
func TestComputeDST(t *testing.T) {
	t.Parallel()
	london := mustZone(t, "Europe/London")
	la := mustZone(t, "America/Los_Angeles")
	tests := []struct {
		name     string
		regime   string
		loc      *time.Location
		received time.Time
		wantDate string
		wantAt   time.Time
	}{
		{"london 00:30 on the spring-forward day", RegimeUKGDPR, london, time.Date(2030, 3, 31, 0, 30, 0, 0, time.UTC),
			"2030-04-30", time.Date(2030, 4, 30, 22, 59, 59, 0, time.UTC)},
		{"london 00:30 BST on the fall-back day is that local date", RegimeUKGDPR, london, time.Date(2030, 10, 26, 23, 30, 0, 0, time.UTC),
			"2030-11-27", time.Date(2030, 11, 27, 23, 59, 59, 0, time.UTC)},
		{"los angeles 23:30 PST is the local date, not the UTC one", RegimeCCPA, la, time.Date(2030, 3, 10, 7, 30, 0, 0, time.UTC),
			"2030-04-23", time.Date(2030, 4, 24, 6, 59, 59, 0, time.UTC)},
		{"los angeles 00:30 on the spring-forward day", RegimeCCPA, la, time.Date(2030, 3, 10, 8, 30, 0, 0, time.UTC),
			"2030-04-24", time.Date(2030, 4, 25, 6, 59, 59, 0, time.UTC)},
		{"los angeles due on the fall-back day", RegimeCCPA, la, time.Date(2030, 9, 19, 19, 0, 0, 0, time.UTC),
			"2030-11-03", time.Date(2030, 11, 4, 7, 59, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Compute(Input{Regimes: []string{tt.regime}, Type: "access", Location: tt.loc, ReceivedAt: tt.received})
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if diff := cmp.Diff(tt.wantDate, got.DueDate); diff != "" {
				t.Errorf("due date (-want +got):\n%s", diff)
			}
			if !got.DueAt.Equal(tt.wantAt) {
				t.Errorf("due at = %s, want %s", got.DueAt.UTC(), tt.wantAt)
			}
		})
	}
}

func TestDeadlineRuleText(t *testing.T) {
	t.Parallel()
	got, err := Compute(Input{Regimes: []string{RegimeEUGDPR}, Type: "access", Location: time.UTC, ReceivedAt: day(time.UTC, 2030, 1, 31)})
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	want := "GDPR Art. 12(3): one month from receipt, extendable by two further months (three from receipt) by notice with reasons within the first month [P]"
	if diff := cmp.Diff([]string{"eu-gdpr-art12-3", want}, []string{got.RuleID, got.Rule}); diff != "" {
		t.Errorf("rule (-want +got):\n%s", diff)
	}
}

func TestExtensionWindowOpen(t *testing.T) {
	t.Parallel()
	first := time.Date(2030, 2, 28, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		name string
		d    Deadline
		at   time.Time
		want bool
	}{
		{"inside the first period", Deadline{ExtensionAllowed: true, InitialAt: first}, first.Add(-time.Hour), true},
		{"at the last second", Deadline{ExtensionAllowed: true, InitialAt: first}, first, true},
		{"after the first period", Deadline{ExtensionAllowed: true, InitialAt: first}, first.Add(time.Second), false},
		{"already extended", Deadline{ExtensionAllowed: true, Extended: true, InitialAt: first}, first.Add(-time.Hour), false},
		{"rule has no extension", Deadline{InitialAt: first}, first.Add(-time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.d.ExtensionWindowOpen(tt.at); got != tt.want {
				t.Errorf("ExtensionWindowOpen = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestComputeRefusesBadInput(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	ok := Input{Regimes: []string{RegimeEUGDPR}, Type: "access", Location: utc, ReceivedAt: day(utc, 2030, 1, 1), DefaultDays: 30}
	tests := []struct {
		name string
		edit func(*Input)
	}{
		{"no location", func(in *Input) { in.Location = nil }},
		{"no receipt", func(in *Input) { in.ReceivedAt = time.Time{} }},
		{"unknown type", func(in *Input) { in.Type = "sell" }},
		{"unknown regime", func(in *Input) { in.Regimes = []string{"xx-law"} }},
		{"notice before receipt", func(in *Input) { in.ExtensionNoticedAt = day(utc, 2029, 12, 31) }},
		{"pause without start", func(in *Input) { in.Pauses = []Pause{{To: day(utc, 2030, 1, 2)}} }},
		{"pause ends before it starts", func(in *Input) { in.Pauses = []Pause{{From: day(utc, 2030, 1, 3), To: day(utc, 2030, 1, 2)}} }},
		{"open pause without now", func(in *Input) { in.Pauses = []Pause{{From: day(utc, 2030, 1, 3)}} }},
		{"absurd pause", func(in *Input) { in.Pauses = []Pause{{From: day(utc, 2030, 1, 3), To: day(utc, 2045, 1, 3)}} }},
		{"pipl without days", func(in *Input) { in.Regimes = []string{RegimePIPL} }},
		{"fallback without default days", func(in *Input) { in.Regimes, in.DefaultDays = nil, 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := ok
			tt.edit(&in)
			if _, err := Compute(in); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Compute error = %v, want ErrInvalidInput", err)
			}
		})
	}
	if _, err := Compute(ok); err != nil {
		t.Errorf("Compute(valid input) = %v", err)
	}
}

func BenchmarkCompute(b *testing.B) {
	london := mustZone(b, "Europe/London")
	in := Input{
		Regimes: []string{RegimeUKGDPR, RegimeEUGDPR, RegimeCCPA}, Type: "access", Location: london,
		ReceivedAt: day(london, 2030, 1, 31), ExtensionNoticedAt: day(london, 2030, 2, 10),
		Pauses: []Pause{{From: day(london, 2030, 2, 1), To: day(london, 2030, 2, 5)}},
	}
	for b.Loop() {
		if _, err := Compute(in); err != nil {
			b.Fatal(err)
		}
	}
}
