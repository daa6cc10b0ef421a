package standalone

import (
	"context"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/ncrontab"
	"github.com/privops/privops/shared/trigger"
)

// ParseSchedule parses a timer schedule: see ncrontab.Parse.
func ParseSchedule(spec string) (ncrontab.Schedule, error) { return ncrontab.Parse(spec) }

// scheduled is a timer function with its parsed schedule.
type scheduled struct {
	funcjson.Paired
	schedule ncrontab.Schedule
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
