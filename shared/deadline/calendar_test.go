package deadline

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func dates(tb testing.TB, ss ...string) []date {
	tb.Helper()
	var out []date
	for _, s := range ss {
		d, err := parseDate(s)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func sorted(ds []date) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	slices.Sort(out)
	return out
}

func TestAddMonths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2030-01-31", 1, "2030-02-28"},
		{"2028-01-31", 1, "2028-02-29"},
		{"2030-01-31", 3, "2030-04-30"},
		{"2030-12-31", 1, "2031-01-31"},
		{"2030-11-30", 3, "2031-02-28"},
		{"2030-09-03", 1, "2030-10-03"},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, dates(t, tt.from)[0].addMonths(tt.n).String()); diff != "" {
				t.Errorf("addMonths(%d) (-want +got):\n%s", tt.n, diff)
			}
		})
	}
}

func TestEaster(t *testing.T) {
	t.Parallel()
	want := []string{"2024-03-31", "2025-04-20", "2026-04-05", "2027-03-28", "2030-04-21", "2038-04-25"}
	var got []string
	for _, y := range []int{2024, 2025, 2026, 2027, 2030, 2038} {
		got = append(got, easter(y).String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("easter (-want +got):\n%s", diff)
	}
}

// Expected lists: gov.uk/bank-holidays and opm.gov federal holidays.
func TestHolidays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  []date
		want []string
	}{
		{"gb 2026: Christmas Friday, Boxing Day substituted", gbHolidays(2026), []string{
			"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28"}},
		{"gb 2027: Christmas Saturday", gbHolidays(2027), []string{
			"2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"}},
		{"gb 2028: New Year Saturday", gbHolidays(2028), []string{
			"2028-01-03", "2028-04-14", "2028-04-17", "2028-05-01", "2028-05-29", "2028-08-28", "2028-12-25", "2028-12-26"}},
		{"gb 2033: Christmas Sunday", gbHolidays(2033)[6:], []string{"2033-12-26", "2033-12-27"}},
		{"us 2027: weekend observance and next New Year", usHolidays(2027), []string{
			"2027-01-01", "2027-01-18", "2027-02-15", "2027-05-31", "2027-06-18", "2027-07-05", "2027-09-06",
			"2027-10-11", "2027-11-11", "2027-11-25", "2027-12-24", "2027-12-31"}},
		{"br 2026: Good Friday 3 Apr, Consciência Negra", brHolidays(2026), []string{
			"2026-01-01", "2026-04-03", "2026-04-21", "2026-05-01", "2026-09-07", "2026-10-12", "2026-11-02", "2026-11-15", "2026-11-20", "2026-12-25"}},
		{"br 2023: no 20 November yet", brHolidays(2023), []string{
			"2023-01-01", "2023-04-07", "2023-04-21", "2023-05-01", "2023-09-07", "2023-10-12", "2023-11-02", "2023-11-15", "2023-12-25"}},
		{"us 2020: no Juneteenth yet", usHolidays(2020), []string{
			"2020-01-01", "2020-01-20", "2020-02-17", "2020-05-25", "2020-07-03", "2020-09-07",
			"2020-10-12", "2020-11-11", "2020-11-26", "2020-12-25"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, sorted(tt.got)); diff != "" {
				t.Errorf("holidays (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCalendarWorkingDays(t *testing.T) {
	t.Parallel()
	gb := Default().calendars[calendarGBEAW]
	us := Default().calendars[calendarUSFederal]
	br := Default().calendars[calendarBRNational]
	tests := []struct {
		name string
		got  date
		want string
	}{
		{"gb Saturday to Monday", gb.nextWorkingDay(dates(t, "2030-02-02")[0]), "2030-02-04"},
		{"gb working day stays", gb.nextWorkingDay(dates(t, "2030-02-05")[0]), "2030-02-05"},
		{"gb coronation 2023 (data)", gb.nextWorkingDay(dates(t, "2023-05-08")[0]), "2023-05-09"},
		{"gb VE Day move 2020 (data)", gb.nextWorkingDay(dates(t, "2020-05-04")[0]), "2020-05-04"},
		{"us 15 days across Thanksgiving", us.addWorkingDays(dates(t, "2030-11-20")[0], 15), "2030-12-12"},
		{"us from a Saturday", us.addWorkingDays(dates(t, "2030-01-05")[0], 1), "2030-01-07"},
		{"us observed 31 Dec 2027", us.addWorkingDays(dates(t, "2027-12-30")[0], 1), "2028-01-03"},
		{"br 3 days across Good Friday 2027", br.addWorkingDays(dates(t, "2027-03-25")[0], 3), "2027-03-31"},
		{"br Carnival Monday 2027 is a working day", br.addWorkingDays(dates(t, "2027-02-05")[0], 1), "2027-02-08"},
		{"br 3 days across 20 Nov 2026 (Friday)", br.addWorkingDays(dates(t, "2026-11-18")[0], 3), "2026-11-24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.got.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDateEnd(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	got := dates(t, "2030-03-31")[0].end(london)
	if want := time.Date(2030, 3, 31, 22, 59, 59, 0, time.UTC); !got.Equal(want) {
		t.Errorf("end = %s, want %s", got.UTC(), want)
	}
}
