package retention

// Breach records (a suite policy of category breach-records): a tenant's
// notices of incidents (its copy of what the operator told it, in its own
// partition) and the data of its subject notification (the campaign, its
// recipient list and delivery ledger). The incident itself is the
// operator's record in the operator's partition, and other tenants' notices
// are theirs: a tenant's policy touches neither.
//
// What a sweep removes and what it keeps, and why:
//   - An incident that is not closed (open or contained, as the operator's
//     incident or the tenant's notice says), or a campaign still sending,
//     keeps everything: its age has not started (the policy counts from the
//     closing, FromIncidentClosed).
//   - Legal holds of the tenant or of the breach-records category keep the
//     record; so does a subject hold covering one of the campaign's remaining
//     recipients (hashed with the tenant's subject key).
//   - The time floors of floors.json bind as for every category (Florida's
//     and Maryland's determinations bind every tenant: at least 5 years).
//   - GDPR Art. 33(5) (document every breach, notified or not: its facts,
//     effects and remedial action, so the authority can verify compliance)
//     states no period: it is a floor on content, not time. A sweep never
//     deletes a notice: it strips it to that documentation (facts, phased
//     reports, dates, statuses, clocks met, escalations, what was delivered
//     when, to which role) and removes the personal data it holds (contact
//     addresses, the identities of the admins who acknowledged and
//     approved). Of the subject notification, the recipients' personal data
//     (the list, the per-recipient ledger rows) is deleted and the campaign's
//     counts, notice text and public notice stay: the evidence of the Art. 34
//     communication.
//
// The recipients a purge concerned are entered in the tombstone ledger by
// their keyed subject hash only (one event per page). Each record is one
// ETag-guarded strip of the campaign and of the notice, the notice last, so
// a stripped notice means a finished record; a crash in between redoes it.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// FromIncidentClosed is the event the age of breach records counts from: the
// closing of the incident.
const FromIncidentClosed = "incident-closed"

// BreachRecord is what a sweep knows of one of the tenant's breach records
// to decide on it.
type BreachRecord struct {
	IncidentID string
	// Closed: the operator's incident and the tenant's notice are both
	// closed. ClosedAt is when, as far as the records tell: the later of
	// their last changes (never earlier than the closing itself, so an age
	// counted from it keeps a record a little longer, never shorter).
	Closed   bool
	ClosedAt time.Time
	// Stripped: a sweep stripped it already (the notice's strippedAt).
	Stripped bool
	// Recipients: the campaign still holds a recipient list or ledger rows.
	Recipients bool
	// Sending: the campaign is still sending.
	Sending bool
}

// BreachRecords is what a sweep needs of the breach stores, all in the
// tenant's partition except the point read of each notice's incident.
type BreachRecords interface {
	// ListBreachRecords pages through the tenant's notices (the store's own
	// cursor; "" first, next "" after the last page).
	ListBreachRecords(ctx context.Context, tenantID, cursor string, limit int) (recs []BreachRecord, next string, err error)
	// BreachRecipients calls fn with the address of each recipient still on
	// the campaign's list (none when it has none).
	BreachRecipients(ctx context.Context, tenantID, incidentID string, fn func(email string) error) error
	// PurgeBreachRecord deletes the campaign's recipient list and ledger,
	// strips the campaign and then the notice (each one ETag-guarded write,
	// re-read on a conflict), at at. Idempotent; an absent record is done.
	PurgeBreachRecord(ctx context.Context, tenantID, incidentID string, at time.Time) error
}

// breachPageLimit bounds a page of notices: each may hold a recipient list.
const breachPageLimit = 100

// scanBreach reads one page of the tenant's breach records after cursor and
// decides each: its event is the incident's closing.
func (s *Sweeper) scanBreach(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, cursor string) (*Page, []string, error) {
	page := &Page{From: cursor}
	if cursor == endOfRequests {
		return page, nil, nil
	}
	recs, next, err := s.d.Breach.ListBreachRecords(ctx, t.ID, cursor, min(s.cfg.PageSize, breachPageLimit))
	if err != nil {
		return nil, nil, err
	}
	var purge []string
	subjects := subjectSet{}
	for _, r := range recs {
		if !r.Closed || r.Sending || r.Stripped {
			continue // not past its event (still open, or sending), or done
		}
		o, _ := pr.Decide(t, Item{Event: r.ClosedAt})
		var hashes []string
		if o == Purge && r.Recipients {
			if hashes, err = s.recipientHashes(ctx, t.ID, r.IncidentID); err != nil {
				return nil, nil, err
			}
			if slices.ContainsFunc(hashes, func(h string) bool { return heldSubject(t, h, pr) }) {
				o = KeptByHold // a subject hold covers one of its recipients
			}
		}
		page.Counts.Count(o, r.ClosedAt)
		if o == Purge {
			purge = append(purge, r.IncidentID)
			for _, h := range hashes {
				subjects.add(h)
			}
		}
	}
	page.Subjects = subjects.sorted(nil)
	page.To = next
	if page.To == "" {
		page.To = endOfRequests
	}
	return page, purge, nil
}

// recipientHashes returns the keyed subject hashes of the campaign's
// remaining recipients.
func (s *Sweeper) recipientHashes(ctx context.Context, tenantID, incidentID string) ([]string, error) {
	var out []string
	err := s.d.Breach.BreachRecipients(ctx, tenantID, incidentID, func(email string) error {
		out = append(out, s.d.Hash(tenantID, email))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the recipients of a breach record: %w", err)
	}
	return out, nil
}

// heldSubject reports whether an active subject hold of t covers hash.
func heldSubject(t *privacy.Tenant, hash string, pr *PolicyReport) bool {
	return slices.ContainsFunc(t.Holds, func(h privacy.Hold) bool {
		return h.Scope == privacy.HoldSubject && h.CoversRetention(hash, pr.Service, pr.Category)
	})
}

// purgeBreach carries out the page's purges.
func (s *Sweeper) purgeBreach(ctx context.Context, t *privacy.Tenant, ids []string) error {
	at := s.d.Now().UTC()
	for _, id := range ids {
		if err := s.d.Breach.PurgeBreachRecord(ctx, t.ID, id, at); err != nil {
			return fmt.Errorf("purge breach record: %w", err)
		}
		s.d.Step("retention-breach-record-purged")
	}
	return nil
}

// pageBreach is page for breach records: scan, checkpoint, purge, fold.
func (s *Sweeper) pageBreach(ctx context.Context, t *privacy.Tenant, st State, owner string) (*privacy.Tenant, error) {
	run := st.Current
	return s.pageOf(ctx, t, st, owner, pageStep{fail: "the breach records could not be read", finish: true},
		func(pr *PolicyReport) (*Page, func(*privacy.Tenant) error, error) {
			page, purge, err := s.scanBreach(ctx, t, pr, run.Cursor)
			return page, func(t *privacy.Tenant) error { return s.purgeBreach(ctx, t, purge) }, err
		})
}

// redoBreach finishes a pending page of breach records: it decides the page
// again (a hold placed meanwhile wins; a record finished before the crash is
// stripped and skipped) and purges what is still due.
func (s *Sweeper) redoBreach(ctx context.Context, t *privacy.Tenant, run *Run) error {
	p := run.Pending
	_, purge, err := s.scanBreach(ctx, t, &run.Policies[p.Policy], p.From)
	if err != nil {
		return err
	}
	return s.purgeBreach(ctx, t, purge)
}
