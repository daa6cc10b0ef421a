package azfunc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/privops/privops/shared/trigger"
)

// timerData is Data.<triggerName> of a timer trigger (reference §3.4).
type timerData struct {
	ScheduleStatus *struct {
		Last, Next, LastUpdated string
	}
	IsPastDue json.RawMessage
}

// scheduleSkew is how far ScheduleStatus.Next may lie after UtcNow and still be
// the occurrence being run (clock skew between the timer and sys.UtcNow). A
// Next further ahead means a manual or start-up run, not a scheduled one.
const scheduleSkew = time.Minute

// invokeTimer runs a timer function once.
func (h *Handler) invokeTimer(ctx context.Context, w http.ResponseWriter, e entry, env envelope, log *slog.Logger) bool {
	info, err := h.decodeTimer(env, e.spec.TriggerName)
	if err != nil {
		log.Error("decode timer trigger", "error", err)
		replyFailure(w)
		return false
	}
	log = log.With("scheduled_at", info.ScheduledAt, "past_due", info.IsPastDue)
	if err := safeCall(func() error { return e.fn.Timer(ctx, info) }); err != nil {
		logError(log, "timer function failed; the next occurrence runs on schedule", err)
		replyFailure(w)
		return false
	}
	log.Info("timer function completed")
	replySuccess(ctx, w)
	return true
}

// decodeTimer builds the TimerInfo. ScheduledAt is ScheduleStatus.Next, the
// occurrence the host is running (late, when IsPastDue); without a schedule
// status (useMonitor false) or for a run off schedule, it is sys.UtcNow
// truncated to the second, NCRONTAB's resolution.
func (h *Handler) decodeTimer(env envelope, triggerName string) (trigger.TimerInfo, error) {
	raw, ok := env.data(triggerName)
	if !ok {
		return trigger.TimerInfo{}, fmt.Errorf("%w: no Data.%s", errBadPayload, triggerName)
	}
	var d timerData
	if err := json.Unmarshal(raw, &d); err != nil {
		return trigger.TimerInfo{}, fmt.Errorf("%w: Data.%s: %v", errBadPayload, triggerName, err)
	}
	var info trigger.TimerInfo
	if s, ok, err := scalar(d.IsPastDue); err != nil {
		return trigger.TimerInfo{}, fmt.Errorf("IsPastDue: %w", err)
	} else if ok {
		if info.IsPastDue, err = strconv.ParseBool(s); err != nil {
			return trigger.TimerInfo{}, fmt.Errorf("%w: IsPastDue %q", errBadPayload, s)
		}
	}
	now, ok := env.sysUtcNow()
	if !ok {
		now = h.now().UTC()
	}
	info.ScheduledAt = now.Truncate(time.Second)
	if d.ScheduleStatus != nil && d.ScheduleStatus.Next != "" {
		next, err := parseTime(d.ScheduleStatus.Next)
		if err != nil {
			return trigger.TimerInfo{}, fmt.Errorf("ScheduleStatus.Next: %w", err)
		}
		if !next.After(now.Add(scheduleSkew)) {
			info.ScheduledAt = next
		}
	}
	return info, nil
}
