package breachsend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// campaignOrNew reads a campaign, or returns a new one (ETag "") if there is
// none.
func (s *Service) campaignOrNew(ctx context.Context, tenantID, incidentID string) (*Campaign, error) {
	c, err := s.d.Store.GetCampaign(ctx, tenantID, incidentID)
	if errors.Is(err, privacy.ErrNotFound) {
		return &Campaign{TenantID: tenantID, IncidentID: incidentID}, nil
	}
	return c, err
}

// Campaign returns the campaign of an incident with its progress.
// unknown-campaign if no list was uploaded and no public notice published.
func (s *Service) Campaign(ctx context.Context, tenantID, incidentID string) (*Campaign, error) {
	c, err := s.d.Store.GetCampaign(ctx, tenantID, incidentID)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-campaign", "no subject notification for this incident")
	}
	return c, err
}

// Start starts the subject notification of an incident: only with an approved
// notice (409 notice-not-approved) and an uploaded list (409 no-recipients).
// It records the notice version and text, the batch plan and the start in one
// campaign write, then enqueues the first plan message. Starting a started
// campaign changes nothing and answers the same campaign (started false); it
// also enqueues the plan again from its checkpoint, which finishes a start a
// crash cut short (the message ids dedupe, the ledger never sends twice).
func (s *Service) Start(ctx context.Context, tenantID, incidentID, actor string) (*Campaign, bool, error) {
	n, err := s.notice(ctx, tenantID, incidentID)
	if err != nil {
		return nil, false, err
	}
	for range 5 {
		c, err := s.d.Store.GetCampaign(ctx, tenantID, incidentID)
		if errors.Is(err, privacy.ErrNotFound) {
			return nil, false, errNoRecipients()
		}
		if err != nil {
			return nil, false, err
		}
		if c.State == StateSending || c.State == StateDone || c.State == StateStopped {
			if c.State == StateSending && c.Enqueued < c.Batches {
				if err := s.publishPlan(ctx, c, c.Enqueued); err != nil {
					return nil, false, err
				}
			}
			return c, false, nil
		}
		if c.State != StateReady || c.Total == 0 {
			return nil, false, errNoRecipients()
		}
		if !n.Approved {
			return nil, false, privacy.Errorf(privacy.KindConflict, "notice-not-approved", "the subject notice of this incident is not approved")
		}
		if n.Subject["en"] == "" || n.Text["en"] == "" {
			return nil, false, privacy.Errorf(privacy.KindConflict, "notice-incomplete", "the approved notice has no English subject and text")
		}
		now := s.d.Now().UTC()
		c.State, c.NoticeVersion, c.Subject, c.Text = StateSending, n.Version, n.Subject, n.Text
		c.StartedAt, c.StartedBy, c.BatchSize = now, actor, s.cfg.BatchSize
		c.Batches = (c.Total + int64(c.BatchSize) - 1) / int64(c.BatchSize)
		c.Enqueued, c.ExpiresAt = 0, time.Time{} // kept while sending; set at the end
		err = s.d.Store.PutCampaign(ctx, c)
		if errors.Is(err, privacy.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		s.d.Step("breachsend.started")
		if err := s.publishPlan(ctx, c, 0); err != nil {
			return nil, false, err
		}
		if err := s.audit(ctx, tenantID, "breachsend-start-"+c.ListID, actor, "breach.subjects.started", incidentID,
			map[string]string{"recipients": strconv.FormatInt(c.Total, 10), "noticeVersion": strconv.Itoa(c.NoticeVersion),
				"batches": strconv.FormatInt(c.Batches, 10)}); err != nil {
			return nil, false, fmt.Errorf("audit the start: %w", err)
		}
		return c, true, nil
	}
	return nil, false, fmt.Errorf("start the campaign: %w", privacy.ErrConflict)
}

func errNoRecipients() error {
	return privacy.Errorf(privacy.KindConflict, "no-recipients", "upload the recipient list of this incident first")
}

// Publish publishes the public notice of an incident (GDPR Art. 34(3)(c):
// individual notice would take disproportionate effort, so a public
// communication informs the subjects as effectively). The approved notice is
// copied into the campaign, so the page shows what was approved. Publishing
// again changes nothing.
func (s *Service) Publish(ctx context.Context, tenantID, incidentID, actor string) (*Campaign, error) {
	n, err := s.notice(ctx, tenantID, incidentID)
	if err != nil {
		return nil, err
	}
	if !n.Approved {
		return nil, privacy.Errorf(privacy.KindConflict, "notice-not-approved", "the subject notice of this incident is not approved")
	}
	for range 5 {
		c, err := s.campaignOrNew(ctx, tenantID, incidentID)
		if err != nil {
			return nil, err
		}
		if c.Public {
			return c, nil
		}
		if c.NoticeVersion == 0 {
			c.NoticeVersion, c.Subject, c.Text = n.Version, n.Subject, n.Text
		}
		c.Public, c.PublicReason, c.PublishedAt = true, "tenant-choice", s.d.Now().UTC()
		err = s.d.Store.PutCampaign(ctx, c)
		if errors.Is(err, privacy.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tenantID, "breachsend-public-"+incidentID, actor, "breach.notice.published", incidentID,
			map[string]string{"reason": c.PublicReason}); err != nil {
			return nil, fmt.Errorf("audit the publication: %w", err)
		}
		return s.d.Store.GetCampaign(ctx, tenantID, incidentID)
	}
	return nil, fmt.Errorf("publish the notice: %w", privacy.ErrConflict)
}

// PublicNotice returns the published notice of an incident: unknown-notice
// unless it is published. It holds no personal data.
func (s *Service) PublicNotice(ctx context.Context, tenantID, incidentID string) (*Campaign, error) {
	c, err := s.d.Store.GetCampaign(ctx, tenantID, incidentID)
	if errors.Is(err, privacy.ErrNotFound) || (err == nil && !c.Public) {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-notice", "no public notice for this incident")
	}
	return c, err
}

// campaignHash names a campaign's list in message ids without its ids' text.
func (s *Service) campaignHash(c *Campaign) string {
	return s.mac("breachsend-campaign", c.TenantID, c.IncidentID, c.ListID)[:24]
}

// message builds a breachsend queue message.
func (s *Service) message(c *Campaign, id, typ string, w Work, notBefore time.Time) (privacy.OutMessage, error) {
	ev, err := privacy.NewEvent(id, typ, c.TenantID, "", s.d.Now(), w)
	if err != nil {
		return privacy.OutMessage{}, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return privacy.OutMessage{}, err
	}
	return privacy.OutMessage{ID: id, Body: body, NotBefore: notBefore}, nil
}

// publishPlan enqueues the plan message that enqueues batches from first on.
func (s *Service) publishPlan(ctx context.Context, c *Campaign, first int64) error {
	m, err := s.message(c, "bsp-"+s.campaignHash(c)+"-"+strconv.FormatInt(first, 10), EventPlan,
		Work{IncidentID: c.IncidentID, ListID: c.ListID, Version: c.NoticeVersion, Batch: first}, time.Time{})
	if err == nil {
		err = s.d.Publisher.Publish(ctx, s.cfg.Queue, m)
	}
	if err != nil {
		return fmt.Errorf("enqueue the campaign plan: %w", err)
	}
	return nil
}

// batchMessage is batch i of c, round r (0, then one per retry round).
func (s *Service) batchMessage(c *Campaign, i int64, round int, notBefore time.Time) (privacy.OutMessage, error) {
	b := int64(c.BatchSize)
	w := Work{IncidentID: c.IncidentID, ListID: c.ListID, Version: c.NoticeVersion, Batch: i,
		From: i*b + 1, To: min((i+1)*b, c.Total), Round: round}
	id := "bsb-" + s.campaignHash(c) + "-" + strconv.FormatInt(i, 10) + "-r" + strconv.Itoa(round)
	return s.message(c, id, EventBatch, w, notBefore)
}

// Plan enqueues the batches of one plan step (PlanStep batch messages), the
// next plan message if more remain, and checkpoints how many are enqueued.
// Batching a million recipients is 5,000 ranges of 200 messages' worth of
// ids: no recipient is read.
func (s *Service) Plan(ctx context.Context, tenantID string, w Work) error {
	c, err := s.d.Store.GetCampaign(ctx, tenantID, w.IncidentID)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.State != StateSending || c.ListID != w.ListID || c.NoticeVersion != w.Version {
		return nil // a stale plan: the campaign moved on
	}
	end := min(w.Batch+int64(s.cfg.PlanStep), c.Batches)
	msgs := make([]privacy.OutMessage, 0, end-w.Batch)
	for i := w.Batch; i < end; i++ {
		m, err := s.batchMessage(c, i, 0, time.Time{})
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if err := s.d.Publisher.Publish(ctx, s.cfg.Queue, msgs...); err != nil {
		return fmt.Errorf("enqueue batches: %w", err)
	}
	if end < c.Batches {
		if err := s.publishPlan(ctx, c, end); err != nil {
			return err
		}
	}
	if end > c.Enqueued {
		c.Enqueued = end
		// The checkpoint only shortens a retried start's re-plan: losing it
		// to a concurrent write costs nothing.
		if err := s.d.Store.PutCampaign(ctx, c); err != nil && !errors.Is(err, privacy.ErrConflict) {
			return err
		}
	}
	return nil
}

// deleteList deletes a list's rows, a bounded batch at a time.
func (s *Service) deleteList(ctx context.Context, tenantID, incidentID, listID string) error {
	for {
		n, err := s.d.Store.DeleteList(ctx, tenantID, incidentID, listID, 5000)
		if err != nil || n == 0 {
			return err
		}
	}
}

// purgeStaged deletes a staged list's rows and its record, unless the list
// is (again) the campaign's: then only the record goes. It reports whether
// it deleted the list.
func (s *Service) purgeStaged(ctx context.Context, tenantID, incidentID, listID string) (bool, error) {
	c, err := s.d.Store.GetCampaign(ctx, tenantID, incidentID)
	if err != nil && !errors.Is(err, privacy.ErrNotFound) {
		return false, err
	}
	if err == nil && c.ListID == listID {
		return false, s.d.Store.UnstageList(ctx, tenantID, incidentID, listID)
	}
	if err := s.deleteList(ctx, tenantID, incidentID, listID); err != nil {
		return false, fmt.Errorf("purge a staged list: %w", err)
	}
	return true, s.d.Store.UnstageList(ctx, tenantID, incidentID, listID)
}
