package retention

// The purge of a Service Bus service: the sweep sends a signed purge command
// to the service's queue and goes on with the other policies; the service's
// counts come back later as a com.privops.purge.completed.v1 message on the
// inbound queue (RecordPurgeAnswer). A run whose other policies are done
// waits, paused, for the answers it still expects, at most until each one's
// AnswerBy (Config.AnswerWait after the command was planned); a policy whose
// answer has not come by then is reported no-answer, a failed policy. What
// moves a run on when an answer never comes is the job's continuation,
// scheduled for that deadline (Run.WaitUntil), and failing that the next
// night's job, which resumes the unfinished run first.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Answer wait bounds (RETENTION_SERVICE_ANSWER_WAIT): at least a minute, at
// most 20 hours, so a nightly run ends before the next night's starts.
const (
	DefaultAnswerWait = 6 * time.Hour
	MinAnswerWait     = time.Minute
	MaxAnswerWait     = 20 * time.Hour
)

// Statuses of a Service Bus service's purge.
const (
	StatusAwaitingAnswer = "awaiting-answer" // the command was sent; the answer has not come yet
	StatusNoAnswer       = "no-answer"       // no answer by AnswerBy: a failed policy
)

// PurgeWait is what a policy report keeps of a purge whose answer comes
// later (a Service Bus service) and of a purge's exclusion list.
type PurgeWait struct {
	// AnswerBy is set when the command is planned (checkpointed before it
	// is sent): the run waits for the answer until then.
	AnswerBy time.Time `json:"answerBy,omitzero"`
	// Answer is the inbound message whose counts were taken: one answer
	// counts, a second is refused.
	Answer string `json:"answer,omitempty"`
	// Excluded counts the held subjects the purge's exclusion list named.
	Excluded int `json:"excluded,omitempty"`
}

// PurgeAnswer is a service's answer to a purge command, as the inbound
// queue decoded and authenticated it (the tenant is the signer's).
type PurgeAnswer struct {
	// ID names the inbound message (its source and id) for dedupe.
	ID                       string
	RunID, PolicyID          string
	DryRun, NotSupported     bool
	Purged, Kept, KeptByHold int64
}

// Refusals of an answer; each changes nothing.
var (
	errUnknownPurge = privacy.Errorf(privacy.KindNotFound, "unknown-purge",
		"no purge command of this tenant has this run and policy")
	errPurgeNotAwaited = func(why string) error {
		return privacy.Errorf(privacy.KindConflict, "purge-not-awaited", "the purge is not waiting for an answer: %s", why)
	}
	errPurgeAnswered = privacy.Errorf(privacy.KindConflict, "purge-answered",
		"an answer to this purge was already counted; a second one is not")
)

// RecordPurgeAnswer counts a Service Bus service's answer to the purge
// command of run a.RunID and policy a.PolicyID of the tenant, in one
// ETag-guarded write of the tenant document. Refused, changing nothing:
// unknown-purge (no such run or policy of this tenant, not a Service Bus
// purge, or a dry run's answer to a real run or the reverse),
// purge-not-awaited (the run has finished, or the policy was reported
// no-answer at its deadline) and purge-answered (another answer was counted).
// The same answer again (same ID) is a no-op. When it was the last answer a
// paused run waited for, the run is finished in the same call.
func (s *Sweeper) RecordPurgeAnswer(ctx context.Context, tenantID string, a PurgeAnswer) error {
	if a.DryRun {
		return s.recordPreviewAnswer(ctx, tenantID, a)
	}
	for attempt := 0; ; attempt++ {
		t, err := s.d.Tenants.GetTenant(ctx, tenantID)
		if err != nil {
			return fmt.Errorf("retention answer: get tenant: %w", err)
		}
		st, err := decodeState(t)
		if err != nil {
			return err
		}
		run, finished := findRun(st, a.RunID)
		if run == nil {
			return errUnknownPurge
		}
		i := slices.IndexFunc(run.Policies, func(p PolicyReport) bool { return p.PolicyID == a.PolicyID })
		if i < 0 || run.Policies[i].AnswerBy.IsZero() {
			return errUnknownPurge
		}
		pr := &run.Policies[i]
		switch {
		case pr.Answer == a.ID:
			return nil // counted already: a redelivery
		case pr.Answer != "":
			return errPurgeAnswered
		case finished:
			return errPurgeNotAwaited("its run has finished")
		case pr.Status == StatusNoAnswer:
			return errPurgeNotAwaited("its deadline passed and the policy was reported no-answer")
		case pr.Status != StatusAwaitingAnswer:
			return errPurgeNotAwaited("the command was not sent (the policy is " + pr.Status + ")")
		}
		pr.Answer = a.ID
		if a.NotSupported {
			pr.Status, pr.Reason = "not-supported", "the service answered that it has no purge"
		} else {
			pr.Status, pr.Reason = "done", ""
			pr.Scanned += a.Purged + a.Kept + a.KeptByHold
			pr.Purged += a.Purged
			pr.KeptByService += a.Kept
			pr.KeptByHold += a.KeptByHold
		}
		if err := encodeState(t, st); err != nil {
			return err
		}
		err = s.d.Tenants.UpdateTenant(ctx, t)
		if errors.Is(err, privacy.ErrConflict) && attempt < 9 {
			continue
		}
		if err != nil {
			return fmt.Errorf("retention answer: %w", err)
		}
		log := s.d.Logger.With("tenant_id", tenantID, "run_id", run.ID)
		log.Info("retention purge answered", "policy", pr.PolicyID, "status", pr.Status, "purged", a.Purged,
			"kept_by_service", a.Kept, "kept_by_hold", a.KeptByHold)
		s.d.Step("retention-answer-recorded")
		now := s.d.Now().UTC()
		if run.Policy >= len(run.Policies) && run.Pending == nil && awaiting(run) == 0 &&
			(run.Owner == "" || !now.Before(run.LeaseUntil)) {
			// The run only waited for this answer: end it now rather than
			// at the deadline's continuation (which then finds it done).
			if _, err := s.finish(ctx, t, st, run.Owner, log); err != nil {
				log.Warn("retention run not finished after its last answer; its continuation finishes it", "error", err.Error())
			}
		}
		return nil
	}
}

// findRun returns the tenant's run id: the current one, or a finished one.
func findRun(st State, id string) (*Run, bool) {
	if st.Current != nil && st.Current.ID == id {
		return st.Current, false
	}
	for i := range st.Recent {
		if st.Recent[i].ID == id {
			return &st.Recent[i], true
		}
	}
	return nil, false
}

// awaiting counts the run's policies still waiting for a service's answer.
func awaiting(r *Run) int {
	n := 0
	for _, p := range r.Policies {
		if p.Status == StatusAwaitingAnswer {
			n++
		}
	}
	return n
}

// answerWait is the earliest deadline of the answers the run still waits
// for (zero if none).
func (r *Run) answerWait() time.Time {
	var at time.Time
	for _, p := range r.Policies {
		if p.Status == StatusAwaitingAnswer && (at.IsZero() || p.AnswerBy.Before(at)) {
			at = p.AnswerBy
		}
	}
	return at
}

// expireAnswers reports no-answer every policy whose answer deadline has
// passed, and returns the earliest deadline of those still awaited (zero:
// the run waits for nothing more).
func (s *Sweeper) expireAnswers(run *Run, log *slog.Logger) time.Time {
	now := s.d.Now().UTC()
	for i := range run.Policies {
		pr := &run.Policies[i]
		if pr.Status == StatusAwaitingAnswer && !now.Before(pr.AnswerBy) {
			pr.Status = StatusNoAnswer
			pr.Reason = fmt.Sprintf("the service sent no answer to the purge command by %s; nothing is known of what it purged",
				pr.AnswerBy.Format(time.RFC3339))
			log.Warn("retention purge got no answer", "policy", pr.PolicyID, "answer_by", pr.AnswerBy)
		}
	}
	return run.answerWait()
}

// mergeAnswers keeps, on a checkpoint written over a fresher tenant
// document, the answers recorded in it since the sweep read it: the sweep
// owns the run's state, but not a service's answer.
func mergeAnswers(mine, stored *Run) {
	if mine == nil || stored == nil || mine.ID != stored.ID {
		return
	}
	for i := range mine.Policies {
		if i < len(stored.Policies) && stored.Policies[i].PolicyID == mine.Policies[i].PolicyID &&
			stored.Policies[i].Answer != "" && mine.Policies[i].Answer == "" {
			mine.Policies[i] = stored.Policies[i]
		}
	}
}

// sendPurge carries out a policy at a Service Bus service: it plans the
// command (AnswerBy set, checkpointed), sends it, and moves on; the answer
// is counted when it comes. A run resuming at a planned command sends it
// again under the same message id (the queue keeps one) and keeps its
// deadline; one that resumes after the answer came moves on.
func (s *Sweeper) sendPurge(ctx context.Context, t *privacy.Tenant, st State, owner string, svc *privacy.Service, log *slog.Logger) (*privacy.Tenant, error) {
	run := st.Current
	pr := &run.Policies[run.Policy]
	if pr.Answer != "" || !pr.AnswerBy.IsZero() && pr.Status != StatusAwaitingAnswer && pr.Status != "pending" && pr.Status != "running" {
		s.nextPhase(run)
		return t, nil
	}
	if pr.AnswerBy.IsZero() {
		if s.keptWhole(t, pr) {
			s.nextPhase(run)
			return t, nil
		}
		switch {
		case !svc.Supports(privacy.ActionPurge):
			pr.Status, pr.Reason = "not-supported", "the service does not list the purge action"
			s.nextPhase(run)
			return t, nil
		case s.d.Purgers[svc.Kind] == nil:
			pr.Status, pr.Reason = "failed", "this host cannot send a service's purge"
			s.nextPhase(run)
			return t, nil
		}
		pr.AnswerBy = s.d.Now().UTC().Add(s.cfg.AnswerWait)
		pr.Status = StatusAwaitingAnswer
		pr.Attempts++
		var err error
		if t, err = s.write(ctx, t, st, owner); err != nil {
			return t, err
		}
		s.d.Step("retention-purge-planned")
		if pr.Answer != "" { // merged by the checkpoint: it came already
			s.nextPhase(run)
			return t, nil
		}
	}
	pr.Status = StatusAwaitingAnswer
	x, err := s.exclusions(t)
	if err != nil {
		return t, err
	}
	_, err = s.d.Purgers[svc.Kind].Purge(ctx, svc, privacy.PurgeCall{TenantID: t.ID, PurgeID: purgeID(run, pr), RunID: run.ID,
		PolicyID: pr.PolicyID, Category: pr.Category, From: pr.From, Cutoff: purgeCutoff(pr), AnswerBy: pr.AnswerBy,
		Exclusions: x, SigningKeys: svc.Secrets})
	switch {
	case errors.Is(err, privacy.ErrUnavailable):
		// Keep the place: the redelivered job sends it again.
		return t, fmt.Errorf("retention purge command: %w", err)
	case err != nil:
		pr.Status, pr.Reason = "failed", "the purge command could not be sent: "+err.Error()
		log.Warn("retention purge command failed", "policy", pr.PolicyID, "error", err.Error())
	default:
		pr.Excluded = exclusionCount(x)
		s.d.Step("retention-purge-sent")
		log.Info("retention purge command sent", "policy", pr.PolicyID, "answer_by", pr.AnswerBy, "excluded", pr.Excluded)
	}
	s.nextPhase(run)
	return t, nil
}

// keptWhole reports (and records on pr) whether a hold keeps the whole of
// the policy's data at its service from a purge: a tenant, service or
// data-category hold, or a subject hold whose subject cannot be put on an
// exclusion list (placed before holds kept what that needs).
func (s *Sweeper) keptWhole(t *privacy.Tenant, pr *PolicyReport) bool {
	h := s.purgeHold(t, pr)
	if h == nil {
		return false
	}
	pr.Status, pr.Reason = "kept-by-hold", fmt.Sprintf("a legal hold of scope %s keeps this service's data; no purge was called", h.Scope)
	if h.Scope == privacy.HoldSubject {
		pr.Reason = "a subject hold placed before holds kept what a purge's exclusion list needs is active: place it again so the purge can spare that subject; no purge was called"
	}
	return true
}

// exclusions builds a purge command's exclusion list: a fresh random salt
// and, per active subject hold, hex(HMAC-SHA256(salt, normalised email)),
// sorted and without repeats (nil when no subject hold is active). The
// emails are opened from the holds (Deps.HeldEmail) for this and never
// leave this function.
func (s *Sweeper) exclusions(t *privacy.Tenant) (*privacy.PurgeExclusions, error) {
	var emails []string
	for i := range t.Holds {
		h := &t.Holds[i]
		if h.Scope != privacy.HoldSubject || !h.ReleasedAt.IsZero() || s.d.HeldEmail == nil {
			continue
		}
		if email, ok := s.d.HeldEmail(t.ID, h); ok {
			emails = append(emails, email)
		}
	}
	if len(emails) == 0 {
		return nil, nil
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("retention: exclusion salt: %w", err)
	}
	return &privacy.PurgeExclusions{Salt: salt, Hashes: ExclusionHashes(salt, emails)}, nil
}

// ExclusionHashes are the exclusion list's hashes of emails under salt:
// hex(HMAC-SHA256(salt, privacy.NormalizeEmail(email))), sorted, each once.
func ExclusionHashes(salt []byte, emails []string) []string {
	out := make([]string, 0, len(emails))
	for _, e := range emails {
		m := hmac.New(sha256.New, salt)
		m.Write([]byte(privacy.NormalizeEmail(e)))
		out = append(out, hex.EncodeToString(m.Sum(nil)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func exclusionCount(x *privacy.PurgeExclusions) int {
	if x == nil {
		return 0
	}
	return len(x.Hashes)
}
