package dsr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// errStale says a task moved under the caller (another delivery claimed or
// finished it): nothing is left to do, the message is acknowledged.
var errStale = errors.New("task moved on")

// RunTask runs one task for a task message. It is idempotent: a task that is
// terminal, waiting, scheduled for later or claimed by a live worker is left
// alone, and only the delivery that claims the task calls the service. A
// transient failure is recorded and retried by a new scheduled message with
// exponential backoff and jitter, within the request's deadline; the handler
// never sleeps. deliveryCount above the configured maximum fails the task (a
// message that keeps crashing its handler must not loop for ever).
func (s *Service) RunTask(ctx context.Context, ev privacy.Event, data privacy.TaskData, deliveryCount int) error {
	t, r, err := s.loadForTask(ctx, ev.TenantID, data.RequestID, data.TaskID)
	if err != nil {
		return err
	}
	task := r.Task(data.TaskID)
	if task == nil {
		return fmt.Errorf("task message %s: %w: unknown task", ev.ID, ErrPermanent)
	}
	now := s.now()
	if !claimable(task, now) {
		return nil
	}
	if deliveryCount > s.cfg.TaskMaxDeliveries {
		// Flush what update wrote: after a conflict, r is a stale copy
		// whose outbox holds events that were never committed.
		r, err := s.update(ctx, r, func(r *privacy.Request) error {
			task := r.Task(data.TaskID)
			if !claimable(task, s.now()) {
				return errStale
			}
			s.settle(t, r, task, s.now(), privacy.ConnectorResult{}, fmt.Errorf("%w: the task message was delivered %d times without an answer", ErrPermanent, deliveryCount))
			return nil
		})
		return s.afterUpdate(ctx, r, data.TaskID, err)
	}
	// Claim: one write. A concurrent duplicate delivery loses the ETag race,
	// re-reads, sees the claim and stops.
	r, err = s.update(ctx, r, func(r *privacy.Request) error {
		task := r.Task(data.TaskID)
		now := s.now()
		if !claimable(task, now) {
			return errStale
		}
		task.Status, task.Attempts, task.LeaseUntil, task.UpdatedAt = privacy.TaskRunning, task.Attempts+1, now.Add(s.cfg.TaskLease), now
		if task.StartedAt.IsZero() {
			task.StartedAt = now
		}
		r.SetWake(s.cfg.TaskLease)
		return nil
	})
	if errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("claim task: %w", err)
	}
	s.d.Step("task-claimed")
	task = r.Task(data.TaskID)
	attempt := task.Attempts
	res, blob, bytes, runErr := s.execute(ctx, t, r, task)
	s.d.Step("task-executed")
	// Keep the request update wrote: after an ETag conflict (another task
	// of the request settled meanwhile) the old r is a stale copy whose
	// outbox holds uncommitted events, and flushing it would append phantom
	// audit entries and leave the committed outbox to the watch.
	r, err = s.update(ctx, r, func(r *privacy.Request) error {
		task := r.Task(data.TaskID)
		if task.Status != privacy.TaskRunning || task.Attempts != attempt {
			return errStale
		}
		task.Blob, task.Bytes = blob, bytes
		s.settle(t, r, task, s.now(), res, runErr)
		return nil
	})
	return s.afterUpdate(ctx, r, data.TaskID, err)
}

// afterUpdate finishes a task write: a stale write is nothing to do, a
// committed one flushes its outbox.
func (s *Service) afterUpdate(ctx context.Context, r *privacy.Request, taskID string, err error) error {
	if errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record task: %w", err)
	}
	s.taskSettled(ctx, r, taskID)
	s.d.Step("task-recorded")
	s.flushQuietly(ctx, r)
	return nil
}

// claimable reports whether a delivery may claim the task now.
func claimable(task *privacy.Task, now time.Time) bool {
	switch task.Status {
	case privacy.TaskPending:
		// A scheduled task waits for its own message; a minute of clock skew
		// between the queue and this host is tolerated.
		return !task.NotBefore.After(now.Add(time.Minute))
	case privacy.TaskRunning:
		return !task.LeaseUntil.After(now) // the claimant's lease ran out: it crashed
	}
	return false
}

// execute calls the service's connector for task. It never writes the store.
func (s *Service) execute(ctx context.Context, t *privacy.Tenant, r *privacy.Request, task *privacy.Task) (res privacy.ConnectorResult, blob string, bytes int64, err error) {
	svc := t.Service(task.Service)
	if svc == nil {
		return res, "", 0, fmt.Errorf("%w: the service is no longer configured", ErrPermanent)
	}
	if task.Action == privacy.ActionErase {
		if h := t.HoldFor(r.SubjectHash, svc.ID); h != nil {
			return privacy.ConnectorResult{Outcome: privacy.OutcomeHeld, Reason: "legal hold: " + h.Reason, Hold: h}, "", 0, nil
		}
	}
	conn := s.d.Connectors[svc.Kind]
	if conn == nil {
		return res, "", 0, fmt.Errorf("%w: no %s connector is configured in this deployment", ErrPermanent, svc.Kind)
	}
	call := privacy.ConnectorCall{TenantID: r.TenantID, RequestID: r.ID, TaskID: task.ID, Action: task.Action,
		Identifiers: identifiers(svc, r), Categories: r.Categories, Changes: r.Changes, Purposes: r.Purposes,
		Deadline: r.Due.At, CallbackURL: s.CallbackURL(r.TenantID, r.ID, task.ID), AllowPrivate: t.AllowPrivateConnectors,
		Attempt: task.Attempts, Round: r.Round}
	if task.Action == privacy.ActionExport {
		blob = exportBlob(r, task)
		call.Save = func(ctx context.Context, rd io.Reader) (int64, error) {
			n, err := s.d.Blobs.Put(ctx, blob, rd)
			bytes = n
			return n, err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.TaskLease*3/4) // finish well inside the claim
	defer cancel()
	res, err = conn.Run(cctx, svc, call)
	if err != nil {
		return res, "", 0, err
	}
	if task.Action == privacy.ActionExport && res.Outcome != privacy.OutcomeDone {
		blob, bytes = "", 0
	}
	if task.Action == privacy.ActionErase && res.Outcome == privacy.OutcomeDone && svc.Supports(privacy.ActionLookup) {
		look := call
		look.Action, look.Save = privacy.ActionLookup, nil
		lr, err := conn.Run(cctx, svc, look)
		if err != nil {
			return res, "", 0, err
		}
		if lr.Present {
			return res, "", 0, fmt.Errorf("%w: the service still finds the subject after the erasure", privacy.ErrUnavailable)
		}
		res.Present = false
		return res, "", 0, errVerified
	}
	return res, blob, bytes, nil
}

// errVerified carries "erased and re-queried absent" out of execute.
var errVerified = errors.New("verified absent")

// identifiers returns the subject's identifiers the service keys its data by.
func identifiers(svc *privacy.Service, r *privacy.Request) map[string]string {
	ids := map[string]string{}
	for _, k := range svc.Identifiers {
		var v string
		switch k {
		case "email":
			v = r.Subject.Email
		case "user-id":
			v = r.Subject.UserID
		case "phone":
			v = r.Subject.Phone
		}
		if v != "" {
			ids[k] = v
		}
	}
	return ids
}

func exportBlob(r *privacy.Request, task *privacy.Task) string {
	return r.TenantID + "/requests/" + r.ID + "/services/" + task.Service + ".json"
}

// settle records the result of a run on a claimed task, and completes the
// request if it was the last one.
func (s *Service) settle(t *privacy.Tenant, r *privacy.Request, task *privacy.Task, now time.Time, res privacy.ConnectorResult, err error) {
	task.UpdatedAt, task.LeaseUntil, task.AnswerBy = now, time.Time{}, time.Time{}
	task.HoldID, task.HoldCategory = "", ""
	verified := errors.Is(err, errVerified)
	if verified {
		err = nil
	}
	switch {
	case err == nil:
		task.Reason = ""
		switch res.Outcome {
		case privacy.OutcomeDone:
			task.Status, task.Items = privacy.TaskDone, res.Items
			if task.Kind == privacy.KindCosmos {
				task.Reason = res.Reason // items an export skipped: storage-only (PIPL Art. 47)
			}
			if task.Action == privacy.ActionErase {
				task.Verification, task.VerifiedAt = privacy.VerifyUnsupported, now
				if verified {
					task.Verification = privacy.VerifyAbsent
				}
			}
		case privacy.OutcomeNoData:
			task.Status, task.Items = privacy.TaskNoData, 0
			if task.Kind == privacy.KindCosmos {
				task.Reason = res.Reason
			}
		case privacy.OutcomeHeld:
			task.Status, task.Reason = privacy.TaskHeld, cleanReason(res.Reason, "held by the service")
			if res.Hold != nil {
				task.HoldID, task.HoldCategory = res.Hold.ID, res.Hold.Category
			}
		case privacy.OutcomeAccepted:
			task.Status = privacy.TaskWaiting
			if task.Kind != privacy.KindManual {
				// The answer is due by then; the watch re-calls or fails it.
				task.AnswerBy = now.Add(s.cfg.CallbackTimeout)
			}
		default:
			task.Status, task.Reason = privacy.TaskFailed, "the connector gave no outcome"
		}
	case errors.Is(err, privacy.ErrUnavailable) && !errors.Is(err, ErrPermanent):
		delay := s.backoff(task.Attempts)
		var ra interface{ RetryDelay() time.Duration }
		if errors.As(err, &ra) && ra.RetryDelay() > delay {
			delay = min(ra.RetryDelay(), s.cfg.RetryCap) // the service asked for longer (Retry-After)
		}
		if task.Attempts < s.cfg.TaskMaxAttempts && (r.Due.At.IsZero() || now.Add(delay).Before(r.Due.At)) {
			task.Status, task.NotBefore, task.Reason = privacy.TaskPending, now.Add(delay), "retrying after a transient failure: "+reasonOf(err)
			if err := s.taskMessage(r, task, now, ""); err != nil {
				task.Status, task.Reason = privacy.TaskFailed, "could not schedule a retry"
			}
		} else {
			task.Status, task.Reason = privacy.TaskFailed, fmt.Sprintf("gave up after %d attempts within the deadline: %s", task.Attempts, reasonOf(err))
		}
	default:
		task.Status, task.Reason = privacy.TaskFailed, reasonOf(err)
	}
	if task.Status.Terminal() {
		task.FinishedAt = now
	}
	s.audit(r, now, "system", "task."+string(task.Status), map[string]string{
		"task": task.ID, "service": task.Service, "action": string(task.Action), "items": strconv.Itoa(task.Items)})
	if task.Status == privacy.TaskDone && task.Action == privacy.ActionErase {
		s.tombstone(r, task, now)
	}
	r.SetWake(s.cfg.TaskLease)
	s.maybeFinish(t, r, now)
}

// taskSettled reports a committed task result to the TaskSettled hook.
func (s *Service) taskSettled(ctx context.Context, r *privacy.Request, taskID string) {
	if s.d.TaskSettled == nil {
		return
	}
	if task := r.Task(taskID); task != nil {
		s.d.TaskSettled(ctx, r.TenantID, task.Action, task.Status)
	}
}

// tombstone records a keyed-hash erasure entry in the audit chain: the ledger
// a restored service replays deletions from.
func (s *Service) tombstone(r *privacy.Request, task *privacy.Task, now time.Time) {
	s.audit(r, now, "system", ActionTombstone, map[string]string{"service": task.Service, "task": task.ID,
		"verification": task.Verification})
}

// ActionTombstone is the audit action of a tombstone-ledger entry.
const ActionTombstone = "subject.erased"

// reasonOf is the text a failed task records: an *privacy.Error's message, or
// the connector's error text (connectors keep personal data out of it).
func reasonOf(err error) string {
	if e, ok := privacy.AsError(err); ok {
		return e.Message
	}
	msg := err.Error()
	for _, p := range []string{ErrPermanent.Error() + ": ", privacy.ErrUnavailable.Error() + ": "} {
		if i := strings.Index(msg, p); i >= 0 {
			msg = msg[i+len(p):]
		}
	}
	return cleanReason(msg, "the connector failed")
}

func cleanReason(s, fallback string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, ""))
	if s == "" {
		return fallback
	}
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// backoff is full-jitter exponential backoff: uniform in [base/2, min(cap,
// base·2^(attempt-1))].
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < attempt && d < s.cfg.RetryCap; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryCap)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// maybeFinish completes the request when its last task ended: an export goes
// on to its package (the package write completes it); anything else completes
// here, in the write that ended the last task, so it completes exactly once.
func (s *Service) maybeFinish(t *privacy.Tenant, r *privacy.Request, now time.Time) {
	if r.Status != privacy.StatusInProgress || !r.TasksDone() {
		return
	}
	if (r.Type == privacy.TypeAccess || r.Type == privacy.TypeExport) && r.Package == nil {
		id := "pkg." + r.ID + "." + strconv.Itoa(r.Round)
		ev, err := privacy.NewEvent(id, privacy.EventPackage, r.TenantID, "request/"+r.ID, now, privacy.TaskData{RequestID: r.ID})
		if err == nil {
			r.Outbox = append(r.Outbox, privacy.OutboxEvent{ID: id, At: now, Queue: s.cfg.TasksQueue, Message: &ev})
		}
		return
	}
	s.complete(r, now)
}

// complete moves a request whose tasks all ended to its outcome and tells the
// subject.
func (s *Service) complete(r *privacy.Request, now time.Time) {
	to, notice := privacy.StatusCompleted, privacy.NoticeCompleted
	counts := map[string]string{}
	for _, task := range r.Tasks {
		counts[string(task.Status)] = strconv.Itoa(atoi(counts[string(task.Status)]) + 1)
		if !task.Status.Succeeded() {
			to, notice = privacy.StatusPartiallyCompleted, privacy.NoticePartial
		}
	}
	if err := r.Move(to); err != nil {
		return
	}
	r.WakeAt = time.Time{}
	// The certificate is issued in this same write, so once per completion;
	// the completion's audit entry names its key. It fails only for a request
	// that has not ended, which Move just ruled out.
	if s.sealCertificate(r, now) == nil {
		counts["certificateKey"] = s.certificateKeyID()
	}
	s.audit(r, now, "system", "request."+string(to), counts)
	_ = s.notice(r, now, notice)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// CallbackURL is where a webhook service posts the signed result of a task it
// answered with 202.
func (s *Service) CallbackURL(tenantID, requestID, taskID string) string {
	return strings.TrimRight(s.cfg.PublicURL, "/") + "/api/callbacks/" + tenantID + "/" + requestID + "/" + taskID
}
