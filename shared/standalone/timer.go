package standalone

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// parser reads 6-field NCRONTAB: {second} {minute} {hour} {day} {month}
// {day-of-week}, as the Functions host does (plus @hourly-style descriptors).
var parser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a timer schedule and pins it to UTC (DESIGN: schedules
// run in UTC; the parser would otherwise use the machine's zone). It refuses a
// time zone prefix, the TimeSpan form ("01:00:00", App Service plans only on
// Azure) and a schedule that never fires.
func ParseSchedule(spec string) (cron.Schedule, error) {
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

// scheduled is a timer function with its parsed schedule.
type scheduled struct {
	funcjson.Paired
	schedule cron.Schedule
}

// maxSleep bounds one wait so that a wall-clock jump (a suspended machine, a
// clock correction) is noticed within this long.
const maxSleep = time.Minute

// pastDueAfter: a run that starts this much after its occurrence is past due
// even when no later occurrence was missed.
const pastDueAfter = time.Minute

// runTimer runs one timer function on its schedule until runCtx is done. Runs
// are sequential, so a function never overlaps itself; occurrences that come
// due while a run is going on, or while the machine sleeps, collapse into one
// late run with IsPastDue. A run in progress when runCtx is done finishes
// under workCtx.
func (h *Host) runTimer(runCtx, workCtx context.Context, t scheduled) {
	log := h.Logger.With("function", t.Spec.Name)
	next := t.schedule.Next(h.Now().UTC()).UTC()
	for {
		if next.IsZero() {
			log.Error("timer schedule has no next occurrence; timer stopped", "schedule", t.Spec.Schedule)
			return
		}
		if !h.sleepUntil(runCtx, next) {
			return
		}
		now := h.Now().UTC()
		missed := !t.schedule.Next(next).After(now)
		info := trigger.TimerInfo{ScheduledAt: next, IsPastDue: missed || now.Sub(next) > pastDueAfter}

		ctx, id := invocation(workCtx, t.Spec.Name)
		err := callSafely(func() error { return t.Function.Timer(ctx, info) })
		l := log.With("invocation_id", id, "scheduled_at", next, "past_due", info.IsPastDue)
		if err != nil {
			l.Error("timer function failed; the next occurrence runs on schedule", "error", err)
		} else {
			l.Info("timer function completed")
		}
		next = t.schedule.Next(now).UTC()
	}
}

// sleepUntil waits until the clock reaches t, in steps of at most maxSleep. It
// reports false when ctx is done first.
func (h *Host) sleepUntil(ctx context.Context, t time.Time) bool {
	for {
		d := t.Sub(h.Now())
		if d <= 0 {
			return ctx.Err() == nil
		}
		if !sleep(ctx, min(d, maxSleep)) {
			return false
		}
	}
}
