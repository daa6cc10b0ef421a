package dsr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// A legal hold defers an erasure (GDPR Art. 17(3)); it does not cancel it.
// When the hold is released, the tasks it held start again: ReleaseHold does
// it at once, and the deadline watch finishes what a crash cut short, so a
// released hold never leaves an erasure held for ever.

// legallyHeld reports whether a held task was held by one of the tenant's
// legal holds rather than by the service's own answer. Tasks held before
// holds were recorded on them are known by their reason.
func legallyHeld(task *privacy.Task) bool {
	return task.Status == privacy.TaskHeld && (task.HoldID != "" || strings.HasPrefix(task.Reason, "legal hold: "))
}

// ResumeReleased starts again the erasures that released holds of tenant t
// deferred, for the deadline watch: it does nothing (no read, no write)
// unless a hold was released and its erasures not yet resumed. It returns how
// many requests it resumed.
func (s *Service) ResumeReleased(ctx context.Context, t *privacy.Tenant) (int, error) {
	return s.resumeReleased(ctx, t, Actor{System: "deadlinewatch"})
}

func (s *Service) resumeReleased(ctx context.Context, t *privacy.Tenant, actor Actor) (int, error) {
	var ids []string
	for _, h := range t.Holds {
		if !h.ReleasedAt.IsZero() && h.RedrivenAt.IsZero() {
			ids = append(ids, h.ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	for _, status := range []privacy.Status{privacy.StatusPartiallyCompleted, privacy.StatusInProgress} {
		f := privacy.RequestFilter{Status: status, Type: privacy.TypeErase, Limit: 200}
		for {
			page, err := s.d.Store.ListRequests(ctx, t.ID, f)
			if err != nil {
				return n, fmt.Errorf("list held requests: %w", err)
			}
			for _, r := range page.Requests {
				ok, err := s.resumeHeld(ctx, t, r, actor)
				if err != nil {
					return n, err
				}
				if ok {
					n++
				}
			}
			if page.Next == "" {
				break
			}
			f.Cursor = page.Next
		}
	}
	_, err := s.changeTenant(ctx, t.ID, actor, "hold.erasures-resumed", "hold/"+strings.Join(ids, ","), func(t *privacy.Tenant, now time.Time) error {
		for i := range t.Holds {
			for _, id := range ids {
				if t.Holds[i].ID == id && t.Holds[i].RedrivenAt.IsZero() {
					t.Holds[i].RedrivenAt = now
				}
			}
		}
		return nil
	})
	return n, err
}

// resumeHeld starts again, in one write, every task of r that a legal hold
// held and that no active hold covers now; the request reopens for another
// round, and the subject is told. It reports whether it resumed anything.
func (s *Service) resumeHeld(ctx context.Context, t *privacy.Tenant, r *privacy.Request, actor Actor) (bool, error) {
	if !hasResumable(t, r) {
		return false, nil
	}
	r, err := s.update(ctx, r, func(r *privacy.Request) error {
		now := s.now()
		n := 0
		for i := range r.Tasks {
			task := &r.Tasks[i]
			if !legallyHeld(task) || t.HoldFor(r.SubjectHash, task.Service) != nil || t.Service(task.Service) == nil {
				continue
			}
			if err := s.rerun(r, task, now); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return errStale
		}
		return s.reopen(r, now, actor, "tasks.resumed", n, true)
	})
	if errors.Is(err, errStale) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("resume held tasks: %w", err)
	}
	s.flushQuietly(ctx, r)
	return true, nil
}

func hasResumable(t *privacy.Tenant, r *privacy.Request) bool {
	for i := range r.Tasks {
		task := &r.Tasks[i]
		if legallyHeld(task) && t.HoldFor(r.SubjectHash, task.Service) == nil && t.Service(task.Service) != nil {
			return true
		}
	}
	return false
}

// rerun sends a task back to pending with a fresh attempt budget and a
// message whose id names the next round. The service is called with the same
// Idempotency-Key as before.
func (s *Service) rerun(r *privacy.Request, task *privacy.Task, now time.Time) error {
	task.Status, task.Reason, task.NotBefore, task.FinishedAt, task.UpdatedAt = privacy.TaskPending, "", now, time.Time{}, now
	task.Attempts, task.AnswerBy, task.HoldID, task.HoldCategory = 0, time.Time{}, "", ""
	return s.taskMessage(r, task, now, ".retry"+strconv.Itoa(r.Round+1))
}

// reopen starts the request's next round after n tasks were sent back to
// pending: a partially completed request is in progress again and completes
// again, once, when they end. With tell, the subject is told that work held
// back is being done now.
func (s *Service) reopen(r *privacy.Request, now time.Time, actor Actor, action string, n int, tell bool) error {
	if r.Status == privacy.StatusPartiallyCompleted {
		if err := r.Move(privacy.StatusInProgress); err != nil {
			return err
		}
		r.Package = nil // the next package includes the retried services
	}
	r.Round++
	r.SetWake(s.cfg.TaskLease)
	s.audit(r, now, actor.String(), action, map[string]string{"tasks": strconv.Itoa(n)})
	if tell {
		return s.notice(r, now, privacy.NoticeResumed)
	}
	return nil
}
