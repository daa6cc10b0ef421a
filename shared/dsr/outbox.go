package dsr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/privops/privops/shared/privacy"
)

// Flush carries out r's outbox: appends each audit entry (idempotent by id) and
// publishes each message (deduplicated by id), then removes what was done from
// the stored request. Safe to run twice or concurrently; a crash at any point
// leaves the rest for the next Flush (the deadline watch re-drives it).
//
// Consecutive messages to one queue go out in one Publish: with the built-in
// queue that is one write of the store's single writer instead of one per
// message (an approval's ten task messages; issue 16). A batch is published
// whole or not at all as far as Flush knows: after a failure nothing of it is
// cleared, and the next Flush publishes it again (the queue drops the copies
// by id).
func (s *Service) Flush(ctx context.Context, r *privacy.Request) error {
	if len(r.Outbox) == 0 {
		return nil
	}
	var done []string
	var batch []privacy.OutMessage
	var batchIDs []string
	batchQueue := ""
	publish := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.d.Publisher.Publish(ctx, batchQueue, batch...); err != nil {
			return fmt.Errorf("flush %s: publish: %w", r, err)
		}
		for _, id := range batchIDs {
			s.d.Step("outbox-item-done")
			done = append(done, id)
		}
		batch, batchIDs = batch[:0], batchIDs[:0]
		return nil
	}
	for _, ev := range r.Outbox {
		switch {
		case ev.Audit != nil:
			if err := publish(); err != nil {
				return err
			}
			a := *ev.Audit
			if err := s.d.Store.AppendAudit(ctx, &a); err != nil {
				return fmt.Errorf("flush %s: append audit: %w", r, err)
			}
		case ev.Message != nil:
			if ev.Queue != batchQueue {
				if err := publish(); err != nil {
					return err
				}
				batchQueue = ev.Queue
			}
			msg := ev.Message
			if s.d.TraceContext != nil {
				if tp, ts := s.d.TraceContext(ctx); tp != "" {
					m := *msg // the stored outbox keeps no trace context
					m.TraceParent, m.TraceState = tp, ts
					msg = &m
				}
			}
			body, err := json.Marshal(msg)
			if err != nil {
				return fmt.Errorf("flush %s: marshal event: %w", r, err)
			}
			// NotBefore carries the schedule (a retry's backoff, an erasure's
			// grace period); without it the message arrives at once, is
			// acknowledged as "not yet" and the task waits for the watch.
			batch = append(batch, privacy.OutMessage{ID: ev.ID, Body: body, NotBefore: ev.NotBefore})
			batchIDs = append(batchIDs, ev.ID)
			continue
		}
		s.d.Step("outbox-item-done")
		done = append(done, ev.ID)
	}
	if err := publish(); err != nil {
		return err
	}
	_, err := s.update(ctx, r, func(r *privacy.Request) error {
		n := len(r.Outbox)
		r.Outbox = slices.DeleteFunc(r.Outbox, func(ev privacy.OutboxEvent) bool { return slices.Contains(done, ev.ID) })
		if len(r.Outbox) == n {
			return errStale // a concurrent flush cleared them: no write
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStale) {
		return fmt.Errorf("flush %s: clear outbox: %w", r, err)
	}
	s.d.Step("outbox-cleared")
	return nil
}

// flushQuietly flushes after a committed state change. The change is durable
// whatever happens here; a failure only delays the outbox until the watch
// re-drives it, so it is logged, not returned.
func (s *Service) flushQuietly(ctx context.Context, r *privacy.Request) {
	if s.cfg.DeferOutbox {
		return
	}
	if err := s.Flush(ctx, r); err != nil {
		s.d.Logger.WarnContext(ctx, "outbox flush deferred to the deadline watch",
			"tenant_id", r.TenantID, "request_id", r.ID, "error", err.Error())
	}
}

// FlushRequest carries out the outbox of the stored request tenantID/id: what
// the outbox function does for each changed request the change feed reports.
// The document in the feed may be older than the stored one, so the request is
// read first; an empty outbox costs that one read. A request that no longer
// exists has nothing to flush.
func (s *Service) FlushRequest(ctx context.Context, tenantID, id string) error {
	r, err := s.d.Store.GetRequest(ctx, tenantID, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("flush %s/%s: %w", tenantID, id, err)
	}
	return s.Flush(ctx, r)
}
