package breachsend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Upload replaces the recipient list of an incident with the one in body,
// streamed: each line is validated, keyed and written in chunks, duplicates
// (by normalised address) are counted and skipped, and the whole list becomes
// the campaign's in one campaign write at the end. Until then the list is
// staged (the watch purges it if the upload never ends), and any error
// deletes it: bad input changes nothing. A started campaign's list cannot be
// replaced (409 campaign-started).
func (s *Service) Upload(ctx context.Context, tenantID, incidentID, contentType string, body io.Reader, actor string) (*Campaign, error) {
	if _, err := s.notice(ctx, tenantID, incidentID); err != nil {
		return nil, err
	}
	c, err := s.campaignOrNew(ctx, tenantID, incidentID)
	if err != nil {
		return nil, err
	}
	if c.State != StateReady && c.State != "" {
		return nil, errStarted()
	}
	now := s.d.Now().UTC()
	listID := "lst_" + s.d.NewID()
	if err := s.d.Store.StageList(ctx, tenantID, incidentID, listID, now.Add(stagedKeep)); err != nil {
		return nil, err
	}
	total, lines, err := s.stream(ctx, tenantID, incidentID, listID, contentType, body)
	if err == nil {
		c, err = s.commitList(ctx, c, listID, total, lines-total, now)
	}
	if err != nil {
		// Nothing of a failed upload stays; the staged record lets the watch
		// finish if this is cut short.
		bg := context.WithoutCancel(ctx)
		derr := s.deleteList(bg, tenantID, incidentID, listID)
		if derr == nil {
			derr = s.d.Store.UnstageList(bg, tenantID, incidentID, listID)
		}
		if derr != nil {
			s.d.Logger.WarnContext(ctx, "delete a failed upload's rows; the watch purges them", "tenant_id", tenantID, "error", derr.Error())
		}
		return nil, err
	}
	if err := s.audit(ctx, tenantID, "breachsend-upload-"+listID, actor, "breach.recipients.uploaded", incidentID,
		map[string]string{"list": listID, "recipients": strconv.FormatInt(total, 10), "duplicates": strconv.FormatInt(c.Duplicates, 10)}); err != nil {
		return nil, fmt.Errorf("audit the upload: %w", err)
	}
	return c, nil
}

// stream parses body into list, returning the recipients stored and the
// lines read.
func (s *Service) stream(ctx context.Context, tenantID, incidentID, listID, contentType string, body io.Reader) (total, lines int64, err error) {
	lim := &byteLimit{r: body, left: s.cfg.MaxBytes}
	next := int64(1)
	buf := make([]Recipient, 0, chunk)
	// One chunk is written while the next is parsed: at most two chunks
	// (10,000 recipients) are in memory.
	var inflight chan error
	wait := func() error {
		if inflight == nil {
			return nil
		}
		err := <-inflight
		inflight = nil
		if err == nil && next-1 > s.cfg.MaxCount {
			err = privacy.Errorf(privacy.KindTooLarge, "too-many-recipients", "the list has more than %d recipients (BREACH_RECIPIENTS_MAX)", s.cfg.MaxCount)
		}
		return err
	}
	flush := func() error {
		if err := wait(); err != nil || len(buf) == 0 {
			return err
		}
		rs := buf
		buf = make([]Recipient, 0, chunk)
		done := make(chan error, 1)
		inflight = done
		go func() {
			n, err := s.d.Store.AddRecipients(ctx, tenantID, incidentID, listID, next, rs)
			if err != nil {
				done <- fmt.Errorf("store recipients: %w", err)
				return
			}
			next = n // read by wait, after the channel receive
			done <- nil
		}()
		return nil
	}
	err = Lines(contentType, lim, func(l Line) error {
		if err := l.Validate(); err != nil {
			return err
		}
		lines++
		buf = append(buf, Recipient{Key: s.recipientKey(tenantID, l.Email), Email: l.Email, Language: l.Language, Name: l.Name, Identifier: l.Identifier})
		if len(buf) == chunk {
			return flush()
		}
		return nil
	})
	if errors.Is(err, errTooLarge) {
		err = privacy.Errorf(privacy.KindTooLarge, "recipient-list-too-large", "the list is larger than %d bytes (BREACH_RECIPIENTS_MAX_BYTES)", s.cfg.MaxBytes)
	}
	if err == nil {
		err = flush()
	}
	if werr := wait(); err == nil {
		err = werr
	}
	if err == nil && next == 1 {
		err = privacy.Errorf(privacy.KindUnprocessable, "empty-recipient-list", "the list has no recipients")
	}
	return next - 1, lines, err
}

var errTooLarge = errors.New("body too large")

// byteLimit fails a read past left bytes.
type byteLimit struct {
	r    io.Reader
	left int64
}

func (b *byteLimit) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
	}
	if int64(len(p)) > b.left {
		p = p[:max(b.left, 1)]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errTooLarge
	}
	return n, err
}

// commitList makes listID the campaign's list in one ETag-guarded write. The
// list it replaces is staged for purging before the write and deleted after.
func (s *Service) commitList(ctx context.Context, c *Campaign, listID string, total, dups int64, now time.Time) (*Campaign, error) {
	for range 5 {
		if c.State != StateReady && c.State != "" {
			return nil, errStarted()
		}
		old := c.ListID
		if old != "" {
			if err := s.d.Store.StageList(ctx, c.TenantID, c.IncidentID, old, now); err != nil {
				return nil, err
			}
		}
		c.State, c.ListID, c.Total, c.Duplicates, c.UploadedAt = StateReady, listID, total, dups, now
		c.ExpiresAt = now.Add(s.cfg.Keep)
		err := s.d.Store.PutCampaign(ctx, c)
		if err == nil {
			if err := s.d.Store.UnstageList(ctx, c.TenantID, c.IncidentID, listID); err != nil {
				s.d.Logger.WarnContext(ctx, "unstage a committed list; the watch does", "tenant_id", c.TenantID, "error", err.Error())
			}
			if old != "" {
				if _, err := s.purgeStaged(ctx, c.TenantID, c.IncidentID, old); err != nil {
					s.d.Logger.WarnContext(ctx, "delete a replaced list; the watch purges it", "tenant_id", c.TenantID, "error", err.Error())
				}
			}
			return s.d.Store.GetCampaign(ctx, c.TenantID, c.IncidentID)
		}
		if !errors.Is(err, privacy.ErrConflict) {
			return nil, err
		}
		if c, err = s.d.Store.GetCampaign(ctx, c.TenantID, c.IncidentID); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("commit the recipient list: %w", privacy.ErrConflict)
}

func errStarted() error {
	return privacy.Errorf(privacy.KindConflict, "campaign-started", "the subject notification of this incident has started; its list cannot change")
}
