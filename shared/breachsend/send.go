package breachsend

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/privops/privops/shared/privacy"
)

// Deliver sends one batch: every recipient of the range whose ledger row is
// not terminal and not waiting for a retry. For each, the ledger advances to
// sent only after the mail server accepted the message; a permanent refusal
// (5xx) is recorded as bounced, a transient failure is retried with backoff
// (doubling from RETRY_BASE) by a later round of the same batch, and failed
// once BREACH_SEND_MAX_ATTEMPTS are spent. A redelivered batch skips what its
// ledger says is done, so it never sends twice. It returns an error only for
// a store or queue fault, for the message to be redelivered.
func (s *Service) Deliver(ctx context.Context, tenantID string, w Work) error {
	c, err := s.d.Store.GetCampaign(ctx, tenantID, w.IncidentID)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.State != StateSending || c.ListID != w.ListID || c.NoticeVersion != w.Version || w.From < 1 || w.To > c.Total || w.From > w.To {
		return nil // a stale or foreign batch: the campaign moved on
	}
	// Two deliveries of one batch (a redelivery while the first still runs,
	// a batch re-planned by a retried start) must not mail at once: the
	// batch is claimed, and the claim renewed while it is sent.
	ctx, release, busyUntil, err := s.claim(ctx, c, w.Batch)
	if err != nil {
		return err
	}
	if !busyUntil.IsZero() {
		m, err := s.batchMessage(c, w.Batch, w.Round, busyUntil.Add(time.Second))
		if err == nil {
			m.ID += "-w" + strconv.FormatInt(busyUntil.Unix(), 10)
			err = s.d.Publisher.Publish(ctx, s.cfg.Queue, m)
		}
		if err != nil {
			return fmt.Errorf("enqueue batch %d after its claim: %w", w.Batch, err)
		}
		return nil
	}
	defer release()
	// The campaign is read again now that the batch is claimed: a stop
	// (StopTenant) either came first and is seen here, or it sees this
	// claim and waits for it to end.
	if c, err = s.d.Store.GetCampaign(ctx, tenantID, w.IncidentID); errors.Is(err, privacy.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if c.State != StateSending || c.ListID != w.ListID || c.NoticeVersion != w.Version {
		return nil
	}
	rows, err := s.d.Store.Deliveries(ctx, tenantID, c.IncidentID, c.ListID, ChannelEmail, c.NoticeVersion, w.From, w.To)
	if err != nil {
		return fmt.Errorf("read batch %d: %w", w.Batch, err)
	}
	now := s.d.Now().UTC()
	todo := make(chan Delivery)
	rec := s.recorders.acquire(s)
	defer s.recorders.release()
	var (
		mu        sync.Mutex
		firstErr  error
		nextRetry time.Time
	)
	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range todo {
				retryAt, err := s.deliverOne(ctx, c, r, rec)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if !retryAt.IsZero() && (nextRetry.IsZero() || retryAt.Before(nextRetry)) {
					nextRetry = retryAt
				}
				mu.Unlock()
			}
		}()
	}
	for _, r := range rows {
		if Terminal(r.Status) {
			continue
		}
		if r.Status == StatusRetry && r.NextAt.After(now) {
			if nextRetry.IsZero() || r.NextAt.Before(nextRetry) {
				nextRetry = r.NextAt
			}
			continue
		}
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		todo <- r
	}
	close(todo)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !nextRetry.IsZero() {
		m, err := s.batchMessage(c, w.Batch, w.Round+1, nextRetry)
		if err == nil {
			err = s.d.Publisher.Publish(ctx, s.cfg.Queue, m)
		}
		if err != nil {
			return fmt.Errorf("enqueue the retry of batch %d: %w", w.Batch, err)
		}
		return nil
	}
	return s.finishIfDone(ctx, tenantID, c.IncidentID)
}

// claimLease is how long a batch's claim lasts without renewal: after a
// crash, its batch waits this long before another delivery takes it.
const claimLease = 30 * time.Second

// claim claims batch for this delivery and renews the claim every third of
// claimLease until release; if the claim is lost, the returned context is
// cancelled and sending stops. When another delivery holds the batch it
// returns when that claim runs out (busyUntil) instead.
func (s *Service) claim(ctx context.Context, c *Campaign, batch int64) (_ context.Context, release func(), busyUntil time.Time, _ error) {
	owner := "d" + s.d.NewID()
	now := s.d.Now()
	ok, err := s.d.Store.ClaimBatch(ctx, c.TenantID, c.IncidentID, batch, owner, now, now.Add(claimLease))
	if err != nil {
		return ctx, nil, time.Time{}, fmt.Errorf("claim batch %d: %w", batch, err)
	}
	if !ok {
		return ctx, nil, now.Add(claimLease), nil
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(claimLease / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				now := s.d.Now()
				if ok, err := s.d.Store.ClaimBatch(ctx, c.TenantID, c.IncidentID, batch, owner, now, now.Add(claimLease)); err != nil || !ok {
					s.d.Logger.WarnContext(ctx, "batch claim lost; stopping its delivery", "tenant_id", c.TenantID, "batch", batch)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(stop)
		<-done
		cancel()
		if err := s.d.Store.ReleaseBatch(context.WithoutCancel(ctx), c.TenantID, c.IncidentID, batch, owner); err != nil {
			s.d.Logger.WarnContext(ctx, "release a batch claim; it runs out by itself", "tenant_id", c.TenantID, "error", err.Error())
		}
	}, time.Time{}, nil
}

// deliverOne sends to one recipient and records the outcome; it returns when
// a retry is due (zero: none), and an error only for a store fault.
func (s *Service) deliverOne(ctx context.Context, c *Campaign, r Delivery, rec *recorder) (time.Time, error) {
	if err := s.limiter.wait(ctx); err != nil {
		return time.Time{}, err
	}
	mailID := s.MailID(c.TenantID, c.IncidentID, r.Key, ChannelEmail, c.NoticeVersion)
	err := s.d.Mailer.Send(ctx, s.compose(c, r, mailID))
	now := s.d.Now().UTC()
	e := LedgerEntry{TenantID: c.TenantID, IncidentID: c.IncidentID, RecipientKey: r.Key, Channel: ChannelEmail,
		Version: c.NoticeVersion, Attempts: r.Attempts + 1, At: now, MailID: mailID}
	var retryAt time.Time
	switch {
	case err == nil:
		s.d.Step("breachsend.accepted") // accepted, not yet recorded: the one window a crash resends
		e.Status = StatusSent
	case ctx.Err() != nil:
		return time.Time{}, ctx.Err() // cancelled: nothing known, the redelivery decides
	case !errors.Is(err, privacy.ErrUnavailable):
		e.Status, e.Code = StatusBounced, bounceCode(err)
	case e.Attempts >= s.cfg.MaxAttempts:
		e.Status, e.Code = StatusFailed, "attempts-exhausted"
	default:
		e.Status, e.Code = StatusRetry, "transient"
		e.NextAt = now.Add(s.backoff(e.Attempts))
		retryAt = e.NextAt
	}
	if err := rec.record(e); err != nil {
		return time.Time{}, fmt.Errorf("record a delivery: %w", err)
	}
	if e.Status == StatusSent {
		s.d.Step("breachsend.sent")
	}
	return retryAt, nil
}

// bounceCode keeps the reply code of a refusal ("smtp 550 5.1.1"), which the
// mail adapter reports without the server's text or the address.
func bounceCode(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "smtp 5"); i >= 0 {
		return strings.TrimSpace(msg[i:min(len(msg), i+len("smtp 550 5.1.1"))])
	}
	return "rejected"
}

// backoff is the wait before attempt n+1: RetryBase doubled per attempt, at
// most 64 times the base.
func (s *Service) backoff(attempts int) time.Duration {
	return s.cfg.RetryBase << min(attempts-1, 6)
}

// compose builds one recipient's mail in their language (English when the
// notice has no text in it).
func (s *Service) compose(c *Campaign, r Delivery, mailID string) privacy.Mail {
	lang := r.Language
	if c.Text[lang] == "" || c.Subject[lang] == "" {
		lang = "en"
	}
	text := c.Text[lang]
	if r.Name != "" {
		greet := "Dear " + r.Name + ",\n\n"
		if lang == "zh-CN" {
			greet = r.Name + "：\n\n"
		}
		text = greet + text
	}
	return privacy.Mail{ID: mailID, To: r.Email, Subject: c.Subject[lang], Text: text}
}

// finishIfDone ends the campaign once nothing is pending: state done, end
// time, the list's expiry (end + BREACH_RECIPIENTS_KEEP), the public notice
// when an individual notice failed (Art. 34(3)(c)), and the purge message
// scheduled for the expiry. Idempotent: every batch's last delivery may call it.
func (s *Service) finishIfDone(ctx context.Context, tenantID, incidentID string) error {
	for range 5 {
		c, err := s.d.Store.GetCampaign(ctx, tenantID, incidentID)
		if err != nil {
			return err
		}
		if c.State != StateSending || c.Progress().Pending > 0 {
			return nil
		}
		now := s.d.Now().UTC()
		c.State, c.EndedAt, c.ExpiresAt = StateDone, now, now.Add(s.cfg.Keep)
		if p := c.Progress(); p.Failed > 0 && !c.Public {
			c.Public, c.PublicReason, c.PublishedAt = true, "individual-notice-failed", now
		}
		err = s.d.Store.PutCampaign(ctx, c)
		if errors.Is(err, privacy.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		p := c.Progress()
		if err := s.audit(ctx, tenantID, "breachsend-done-"+c.ListID, "system", "breach.subjects.notified", incidentID,
			map[string]string{"total": strconv.FormatInt(p.Total, 10), "sent": strconv.FormatInt(p.Sent, 10),
				"failed": strconv.FormatInt(p.Failed, 10), "bounced": strconv.FormatInt(p.Bounced, 10), "public": strconv.FormatBool(c.Public)}); err != nil {
			return fmt.Errorf("audit the campaign's end: %w", err)
		}
		m, err := s.message(c, "bspurge-"+s.campaignHash(c), EventPurge, Work{IncidentID: incidentID, ListID: c.ListID}, c.ExpiresAt.Add(time.Second))
		if err == nil {
			err = s.d.Publisher.Publish(ctx, s.cfg.Queue, m)
		}
		if err != nil {
			// The watch purges it anyway; the message only makes it punctual.
			s.d.Logger.WarnContext(ctx, "schedule the recipient list's purge; the deadline watch purges it", "tenant_id", tenantID, "error", err.Error())
		}
		s.d.Logger.InfoContext(ctx, "breach subject notification done", "tenant_id", tenantID, "total", p.Total, "sent", p.Sent, "failed", p.Failed, "bounced", p.Bounced)
		return nil
	}
	return fmt.Errorf("end the campaign: %w", privacy.ErrConflict)
}

// limiter spaces sends to BREACH_SEND_RATE per second across the process's
// breach lane; 0 is unlimited.
type limiter struct {
	l   *rate.Limiter
	now func() time.Time
}

func newLimiter(perSecond float64, now func() time.Time) *limiter {
	if perSecond <= 0 {
		return &limiter{now: now}
	}
	return &limiter{l: rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond/10))), now: now}
}

func (l *limiter) wait(ctx context.Context) error {
	if l.l == nil {
		return ctx.Err()
	}
	now := l.now()
	d := l.l.ReserveN(now, 1).DelayFrom(now)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
