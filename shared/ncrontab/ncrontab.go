// Package ncrontab parses the timer schedules of function.json files
// (NCRONTAB, as the Azure Functions host reads them). The standalone host runs
// its timers on them, and the configuration check refuses a schedule setting
// (DEADLINE_WATCH_SCHEDULE) that the Functions host could not run, so that the
// mistake stops the handler at start instead of a timer never firing.
//
// The parsing is github.com/netresearch/go-cron's, a maintained fork of
// robfig/cron v3 with the same syntax.
package ncrontab

import (
	"fmt"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
)

// Schedule says when a timer fires next.
type Schedule interface {
	// Next returns the first activation strictly after t, in UTC; the zero
	// time if there is none.
	Next(t time.Time) time.Time
}

// parser reads 6-field NCRONTAB: {second} {minute} {hour} {day} {month}
// {day-of-week}, as the Functions host does (plus @hourly-style descriptors).
// Source: https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions
var parser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse parses a timer schedule and pins it to UTC (DESIGN: schedules run in
// UTC; the parser would otherwise use the machine's zone). It refuses a time
// zone prefix, the TimeSpan form ("01:00:00", App Service plans only on Azure,
// not Flex Consumption) and a schedule that never fires. Errors name the
// schedule, not the setting it came from.
func Parse(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("parse schedule %q: schedules run in UTC; drop the time zone", spec)
	}
	if !strings.Contains(spec, " ") && strings.Count(spec, ":") == 2 {
		return nil, fmt.Errorf("parse schedule %q: TimeSpan schedules are not supported; use NCRONTAB", spec)
	}
	s, err := parser.Parse("CRON_TZ=UTC " + spec)
	if err != nil {
		return nil, fmt.Errorf("parse schedule %q: %w", spec, err)
	}
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("parse schedule %q: it never fires", spec)
	}
	return s, nil
}
