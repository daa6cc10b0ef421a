package retention

// The sweep of a built-in data container (a service of kind cosmos): pages
// of items past the cutoff in id order, each decided, checkpointed, deleted.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// scan reads one page of the policy's container after cursor and decides each
// item. It returns the page (To is the last id read) and the ids to purge.
func (s *Sweeper) scan(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, items Items, cursor string) (*Page, []string, error) {
	page := &Page{From: cursor}
	var purge []string
	subjects := subjectSet{}
	err := items.ScanItemsBefore(ctx, t.ID, svc.Container, pr.TimestampPath, pr.Cutoff, cursor, s.cfg.PageSize, func(id string, doc []byte) error {
		page.To = id
		if o, ev, subject, ok := s.decide(t, pr, svc, doc); ok {
			page.Counts.Count(o, ev)
			if o == Purge {
				purge = append(purge, id)
				subjects.add(subject)
			}
		}
		return nil
	})
	page.Subjects = subjects.sorted(nil)
	if pr.Action == ActionStorageOnly {
		page.Subjects = nil // kept, not purged: no tombstone
	}
	page.Counts.actOn(pr.Action)
	return page, purge, err
}

// scanRange decides again the items in (from, to] (a pending page).
// It returns the ids to purge and the subjects of the items now kept by a
// hold (a hold placed since the page was planned: no tombstone for them).
func (s *Sweeper) scanRange(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, items Items, from, to string) ([]string, subjectSet, error) {
	var purge []string
	held := subjectSet{}
	errStop := errors.New("stop")
	err := items.ScanItemsBefore(ctx, t.ID, svc.Container, pr.TimestampPath, pr.Cutoff, from, s.cfg.PageSize, func(id string, doc []byte) error {
		if id > to {
			return errStop
		}
		if o, _, subject, ok := s.decide(t, pr, svc, doc); ok {
			switch o {
			case Purge:
				purge = append(purge, id)
			case KeptByHold:
				held.add(subject)
			}
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return purge, held, err
}

// decide reads an item's event time and subject and decides it; subject is
// the keyed hash of its email ("" when it has none). ok is false for an item
// whose time cannot be read (never purged, not counted).
func (s *Sweeper) decide(t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, doc []byte) (Outcome, time.Time, string, bool) {
	var v map[string]any
	if err := json.Unmarshal(doc, &v); err != nil {
		return NotDue, time.Time{}, "", false
	}
	raw, _ := at(v, pr.TimestampPath).(string)
	ev, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return NotDue, time.Time{}, "", false
	}
	if pr.Action == ActionStorageOnly && v[StorageOnlyField] != nil {
		return NotDue, time.Time{}, "", false // marked already: not counted again
	}
	it := Item{Event: ev}
	if p := svc.IdentityPaths["email"]; p != "" {
		if email, _ := at(v, p).(string); email != "" {
			it.SubjectHash = s.d.Hash(t.ID, email)
		}
	}
	o, _ := pr.Decide(t, it)
	return o, ev, it.SubjectHash, true
}

// at returns the value at a /a/b path of a decoded JSON object, or nil.
func at(v map[string]any, path string) any {
	var cur any = v
	for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	return cur
}

// page sweeps one page of the run's current policy: scan and decide, write
// the page as the checkpoint, delete, fold the counts (in memory). A policy
// that cannot be read or deleted from is marked failed and the run moves on;
// only a failure that must keep the run's place is returned.
func (s *Sweeper) page(ctx context.Context, t *privacy.Tenant, st State, owner string, items Items, svc *privacy.Service, log *slog.Logger) (*privacy.Tenant, error) {
	run := st.Current
	pr := &run.Policies[run.Policy]
	page, purge, err := s.scan(ctx, t, pr, svc, items, run.Cursor)
	if err != nil {
		log.Warn("retention policy failed", "policy", pr.PolicyID, "error", err.Error())
		pr.Status, pr.Reason = "failed", "the container could not be read"
		s.nextPhase(run)
		return t, nil
	}
	if page.Counts.Scanned == 0 && page.To == "" {
		pr.Status = "done"
		s.nextPhase(run)
		return t, nil
	}
	page.Policy = run.Policy
	run.Pending = page
	if t, err = s.write(ctx, t, st, owner); err != nil {
		return t, err
	}
	s.d.Step("retention-page-planned")
	if _, err := s.carryOut(ctx, t, pr, svc, items, purge); errors.Is(err, privacy.ErrUnavailable) {
		// Throttled (Cosmos 429 after the store's own retries) or down:
		// keep the place. The page stays pending in the checkpoint; the
		// redelivered job takes the run over when the lease runs out and
		// redoes it.
		log.Warn("retention delete throttled; the page will be redone", "policy", pr.PolicyID, "count", len(purge))
		return t, fmt.Errorf("retention delete: %w", err)
	} else if err != nil {
		log.Warn("retention delete failed", "policy", pr.PolicyID, "count", len(purge), "error", err.Error())
		page.Counts.Failed += page.Counts.Purged + page.Counts.StorageOnly
		page.Counts.Purged, page.Counts.StorageOnly = 0, 0
		page.Subjects = nil // nothing was purged
		page.Counts.Oldest, page.Counts.Newest = time.Time{}, time.Time{}
		pr.Status, pr.Reason = "failed", "deleting from the container failed"
		if err := s.fold(ctx, t.ID, run); err != nil {
			return t, err
		}
		s.nextPhase(run)
		return t, nil
	}
	s.d.Step("retention-page-deleted")
	log.Debug("retention page", "policy", pr.PolicyID, "purged", len(purge), "scanned", page.Counts.Scanned)
	if err := s.fold(ctx, t.ID, run); err != nil {
		return t, err
	}
	return t, nil
}

// StorageOnlyField is the item property a storage-only policy sets (to the
// time, RFC 3339) on the items past it: the built-in connector's exports
// skip such items, and nothing but storage happens to them (PIPL Art. 47).
// An erasure still deletes them.
const StorageOnlyField = "privopsStorageOnly"

// Marker marks items of a built-in container storage-only: it sets
// StorageOnlyField to at on the tenant's items with these ids and counts
// those it changed; an item marked already or gone is not counted, so a
// repeated call is harmless.
type Marker interface {
	MarkItemsStorageOnly(ctx context.Context, tenantID, container string, ids []string, at time.Time) (int, error)
}

// carryOut applies the policy's action to the page's items decided Purge:
// delete them, or mark them storage-only.
func (s *Sweeper) carryOut(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, items Items, ids []string) (int, error) {
	if pr.Action != ActionStorageOnly {
		return items.DeleteItemIDs(ctx, t.ID, svc.Container, ids)
	}
	m, ok := items.(Marker)
	if !ok {
		return 0, errors.New("this store cannot mark items storage-only")
	}
	return m.MarkItemsStorageOnly(ctx, t.ID, svc.Container, ids, s.d.Now().UTC())
}
