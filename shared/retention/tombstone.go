package retention

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Tombstones: what a sweep purged about a subject is entered in the tenant's
// tombstone ledger (the audit chain, as erasures are), by the subject's keyed
// hash only, so a service or a copy restored from a backup can replay the
// purge. One event per page lists the page's subjects; it is written with the
// checkpoint that follows the page's deletes, never before them, and its id
// is fixed by the run, the policy and the page, so a page redone after a
// crash enters it once. A service's purge names no subject and enters none.

// ActionSubjectsPurged is the audit action of a sweep's tombstones: details
// "subjects" (space-separated keyed hashes), "service" ("" for privops's own
// records), "policy", "run", "category" and "count".
const ActionSubjectsPurged = "subjects.purged"

// subjectSet collects the distinct subjects of a page's purged items.
type subjectSet map[string]bool

func (s subjectSet) add(h string) {
	if h != "" {
		s[h] = true
	}
}

// sorted lists the set's subjects without those in not (the subjects a
// redone page now keeps: a hold placed meanwhile kept their items).
func (s subjectSet) sorted(not subjectSet) []string {
	var out []string
	for h := range s {
		if !not[h] {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// tombstone returns the page's tombstone event, or false when the page
// purged nothing about a subject.
func tombstone(tenantID string, run *Run, p *Page, at time.Time) (privacy.AuditEvent, bool) {
	if len(p.Subjects) == 0 {
		return privacy.AuditEvent{}, false
	}
	pr := run.Policies[p.Policy]
	sum := sha256.Sum256([]byte(run.ID + "\x00" + strconv.Itoa(p.Policy) + "\x00" + p.Phase + "\x00" + p.From + "\x00" + p.To))
	service := pr.Service
	if pr.Scope == ScopeSuite || p.Phase == phaseDerived {
		service = "" // privops's own records, or its copies in export packages
	}
	return privacy.AuditEvent{ID: "tmb_" + hex.EncodeToString(sum[:12]), TenantID: tenantID, At: at.UTC(),
		Actor: "system:retention", Action: ActionSubjectsPurged, Target: "retention-run/" + run.ID,
		Details: map[string]string{"subjects": strings.Join(p.Subjects, " "), "count": strconv.Itoa(len(p.Subjects)),
			"service": service, "policy": pr.PolicyID, "run": run.ID, "category": pr.Category}}, true
}

// subjectSetOf returns the set of hs.
func subjectSetOf(hs []string) subjectSet {
	s := subjectSet{}
	for _, h := range hs {
		s.add(h)
	}
	return s
}
