package lambdahost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// pastDue is how late a scheduled event may arrive and still count as on
// time. EventBridge delivers within seconds; a retried invocation (Lambda
// retries an asynchronous invocation after a minute, then two) arrives later.
const pastDue = time.Minute

// serveTimer runs the timer function the scheduled event's rule names. The
// rule name is the function name, or ends in "-<function name>"
// (privops-prod-deadlinewatch → deadlinewatch), so one account can hold the
// rules of several deployments. A rule no function answers to, or a failed
// run, is the invocation error: Lambda retries the asynchronous invocation and
// then sends it to the function's failure destination, if any.
func (h *Host) serveTimer(ctx context.Context, raw json.RawMessage) error {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		err = fmt.Errorf("decode scheduled event: %w", jsonError(err))
		h.logger.Error("decode scheduled event", "error", err)
		return err
	}
	rule := ruleName(ev.Resources)
	e, ok := h.timerFor(rule)
	if !ok {
		err := fmt.Errorf("no timer function for rule %q (want the function name, or a name ending in -<function name>)", rule)
		h.logger.Error("unknown schedule rule", "rule", rule, "error", err)
		return err
	}

	now := h.now().UTC()
	info := trigger.TimerInfo{ScheduledAt: ev.Time.UTC(), IsPastDue: now.Sub(ev.Time) > pastDue}
	if ev.Time.IsZero() {
		info = trigger.TimerInfo{ScheduledAt: now.Truncate(time.Second)}
	}
	ctx = trigger.WithInvocation(ctx, trigger.Invocation{ID: ev.ID, Function: e.spec.Name})
	log := h.logger.With("function", e.spec.Name, "invocation_id", ev.ID, "trigger", string(funcjson.KindTimer),
		"rule", rule, "scheduled_at", info.ScheduledAt, "past_due", info.IsPastDue)
	if err := safeCall(func() error { return e.fn.Timer(ctx, info) }); err != nil {
		logError(log, "timer function failed; lambda will retry the invocation", err)
		if errors.Is(err, errPanic) {
			// The stack is in the log; the invocation error stays one line.
			return fmt.Errorf("timer function %s: %w", e.spec.Name, errPanic)
		}
		return fmt.Errorf("timer function %s: %w", e.spec.Name, err)
	}
	log.Info("timer function completed")
	return nil
}

// ruleName returns the rule's name from the event's first resource,
// arn:aws:events:<region>:<account>:rule/[<event bus>/]<rule name>.
func ruleName(resources []string) string {
	if len(resources) == 0 {
		return ""
	}
	arn := resources[0]
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// timerFor finds the timer function named by the whole rule name, else by the
// part after its last '-', case-insensitively.
func (h *Host) timerFor(rule string) (entry, bool) {
	if rule == "" {
		return entry{}, false
	}
	suffix := rule[strings.LastIndexByte(rule, '-')+1:]
	for _, want := range []string{rule, suffix} {
		for _, e := range h.timers {
			if strings.EqualFold(e.spec.Name, want) {
				return e, true
			}
		}
	}
	return entry{}, false
}
