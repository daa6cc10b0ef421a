package deadline

import (
	"fmt"
	"time"
)

// date is a calendar day with no zone. Deadlines are counted in days of the
// tenant's zone, so instants are turned into dates once (dateOf) and all
// arithmetic is then free of DST: a day is always one day.
type date struct {
	y int
	m time.Month
	d int
}

// dateOf is the calendar day of instant t in loc.
func dateOf(t time.Time, loc *time.Location) date {
	y, m, d := t.In(loc).Date()
	return date{y, m, d}
}

// parseDate reads a civil date "2006-01-02".
func parseDate(s string) (date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return dateOf(t, time.UTC), nil
}

func (d date) utc() time.Time { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC) }

func (d date) String() string { return d.utc().Format(time.DateOnly) }

func (d date) weekday() time.Weekday { return d.utc().Weekday() }

func (d date) addDays(n int) date { return dateOf(d.utc().AddDate(0, 0, n), time.UTC) }

// addMonths is the same day n months later, or the last day of that month when
// it is shorter: 31 Jan + 1 → 28/29 Feb, 31 Jan + 3 → 30 Apr, 3 Sep + 1 → 3 Oct
// (privacy-rules.md §E.1–E.2). time.AddDate would overflow 31 Jan into March.
func (d date) addMonths(n int) date {
	first := time.Date(d.y, d.m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return date{first.Year(), first.Month(), min(d.d, last)}
}

// compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d date) compare(o date) int { return d.utc().Compare(o.utc()) }

// end is the last second of the day in loc, the instant a "due on" date expires.
// 23:59:59 exists on every day, DST switches included.
func (d date) end(loc *time.Location) time.Time {
	return time.Date(d.y, d.m, d.d, 23, 59, 59, 0, loc)
}

// Holiday calendar names that rules refer to.
const (
	// calendarGBEAW: bank holidays of England and Wales (Banking and Financial
	// Dealings Act 1971, Sch. 1, plus royal proclamations kept in rules.json).
	calendarGBEAW = "gb-eaw"
	// calendarUSFederal: US federal holidays (5 U.S.C. §6103), with the
	// Saturday → Friday and Sunday → Monday observance of EO 11582.
	calendarUSFederal = "us-federal"
	// calendarBRNational: Brazil's national holidays, the days the federal
	// administration (the ANPD among it) does not work by law.
	calendarBRNational = "br-national"
)

// holidayRules computes a calendar's regular holidays for a year; one-off
// changes (jubilees, moved days) come from the data as additions and removals.
var holidayRules = map[string]func(year int) []date{
	calendarGBEAW:      gbHolidays,
	calendarUSFederal:  usHolidays,
	calendarBRNational: brHolidays,
}

// calendar is a holiday calendar: weekends and holidays are not working days.
type calendar struct {
	regular func(year int) []date
	add     map[date]bool
	remove  map[date]bool
}

func (c *calendar) holiday(d date) bool {
	if c.add[d] {
		return true
	}
	if c.remove[d] {
		return false
	}
	for _, h := range c.regular(d.y) {
		if h == d {
			return true
		}
	}
	return false
}

// workingDay reports whether d is neither a weekend day nor a holiday.
func (c *calendar) workingDay(d date) bool {
	wd := d.weekday()
	return wd != time.Saturday && wd != time.Sunday && !c.holiday(d)
}

// nextWorkingDay is d itself when it is a working day, else the next one.
func (c *calendar) nextWorkingDay(d date) date {
	for !c.workingDay(d) {
		d = d.addDays(1)
	}
	return d
}

// addWorkingDays is the n-th working day after d (d itself is day 0).
func (c *calendar) addWorkingDays(d date, n int) date {
	for n > 0 {
		d = d.addDays(1)
		if c.workingDay(d) {
			n--
		}
	}
	return d
}

// easter is Easter Sunday of the Gregorian calendar (anonymous algorithm,
// Meeus/Jones/Butcher).
func easter(y int) date {
	a, b, c := y%19, y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return date{y, time.Month(month), day}
}

// nthWeekday is the n-th wd of the month (n = -1: the last one).
func nthWeekday(y int, m time.Month, wd time.Weekday, n int) date {
	if n < 0 {
		last := date{y, m, 1}.addMonths(1).addDays(-1)
		return last.addDays(-((int(last.weekday()) - int(wd) + 7) % 7))
	}
	first := date{y, m, 1}
	return first.addDays((int(wd)-int(first.weekday())+7)%7 + 7*(n-1))
}

// gbHolidays are the regular bank holidays of England and Wales: a holiday on a
// weekend is substituted by the next weekday that is not already a holiday
// (gov.uk/bank-holidays).
func gbHolidays(y int) []date {
	e := easter(y)
	hs := []date{
		mondayIfWeekend(date{y, time.January, 1}),
		e.addDays(-2),                               // Good Friday
		e.addDays(1),                                // Easter Monday
		nthWeekday(y, time.May, time.Monday, 1),     // early May
		nthWeekday(y, time.May, time.Monday, -1),    // spring
		nthWeekday(y, time.August, time.Monday, -1), // summer
	}
	switch (date{y, time.December, 25}).weekday() {
	case time.Friday: // Boxing Day on Saturday → Monday 28
		return append(hs, date{y, time.December, 25}, date{y, time.December, 28})
	case time.Saturday: // both substituted: Monday 27, Tuesday 28
		return append(hs, date{y, time.December, 27}, date{y, time.December, 28})
	case time.Sunday: // Boxing Day Monday 26, Christmas substituted on Tuesday 27
		return append(hs, date{y, time.December, 26}, date{y, time.December, 27})
	default:
		return append(hs, date{y, time.December, 25}, date{y, time.December, 26})
	}
}

func mondayIfWeekend(d date) date {
	switch d.weekday() {
	case time.Saturday:
		return d.addDays(2)
	case time.Sunday:
		return d.addDays(1)
	}
	return d
}

// observedUS moves a fixed-date federal holiday off the weekend: Saturday to
// the Friday before, Sunday to the Monday after (EO 11582 §3).
func observedUS(d date) date {
	switch d.weekday() {
	case time.Saturday:
		return d.addDays(-1)
	case time.Sunday:
		return d.addDays(1)
	}
	return d
}

// usHolidays are the US federal holidays observed in year y (5 U.S.C. §6103).
// New Year's Day of y+1 falling on a Saturday is observed on 31 Dec of y.
func usHolidays(y int) []date {
	hs := []date{
		observedUS(date{y, time.January, 1}),
		nthWeekday(y, time.January, time.Monday, 3),    // Martin Luther King Jr.
		nthWeekday(y, time.February, time.Monday, 3),   // Washington's Birthday
		nthWeekday(y, time.May, time.Monday, -1),       // Memorial Day
		observedUS(date{y, time.July, 4}),              // Independence Day
		nthWeekday(y, time.September, time.Monday, 1),  // Labor Day
		nthWeekday(y, time.October, time.Monday, 2),    // Columbus Day
		observedUS(date{y, time.November, 11}),         // Veterans Day
		nthWeekday(y, time.November, time.Thursday, 4), // Thanksgiving
		observedUS(date{y, time.December, 25}),         // Christmas
	}
	if y >= 2021 { // Juneteenth National Independence Day Act, 17 June 2021
		hs = append(hs, observedUS(date{y, time.June, 19}))
	}
	if ny := observedUS(date{y + 1, time.January, 1}); ny.y == y {
		hs = append(hs, ny)
	}
	return hs
}

// brHolidays are Brazil's national holidays in year y: Lei 662/1949 as
// amended by Lei 10.607/2002 (1 Jan, 21 Apr, 1 May, 7 Sep, 2 Nov, 15 Nov,
// 25 Dec), Lei 6.802/1980 (12 Oct), Good Friday (Lei 9.093/1995; on the
// federal government's yearly list of national holidays) and, from 2024, the
// Dia Nacional de Zumbi e da Consciência Negra (Lei 14.759/2023, 20 Nov).
// Holidays are not moved off weekends. The federal "pontos facultativos"
// (Carnival Monday and Tuesday, Ash Wednesday morning, Corpus Christi) are
// not holidays and count as working days: a deadline counted without them
// can only come earlier, never later, than the ANPD's own count.
func brHolidays(y int) []date {
	hs := []date{
		{y, time.January, 1},
		easter(y).addDays(-2), // Paixão de Cristo
		{y, time.April, 21},   // Tiradentes
		{y, time.May, 1},
		{y, time.September, 7},
		{y, time.October, 12},
		{y, time.November, 2},
		{y, time.November, 15},
		{y, time.December, 25},
	}
	if y >= 2024 {
		hs = append(hs, date{y, time.November, 20})
	}
	return hs
}
