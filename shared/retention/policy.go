package retention

import (
	"slices"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Policy is a tenant's retention policy (stored on the tenant document).
type Policy = privacy.RetentionPolicy

// MaxPolicies is the most retention policies a tenant may have.
const MaxPolicies = 200

// Validate checks policy p of tenant t at now, and that no legal floor binding
// t forbids it. Every refusal is a 422 *privacy.Error naming the field:
//   - invalid-retention-policy: a malformed or unknown value;
//   - retention-scope-not-available: a manual service (built-in containers
//     are swept directly, webhook and Service Bus services through the purge
//     action; a manual service has nothing privops can call);
//   - retention-action-not-available: anonymise or storage-only where no sweep
//     can carry it out (see checkAction);
//   - below-legal-floor: maxAgeDays is shorter than a floor; the message names
//     the floor, its regime and its source.
func Validate(t *privacy.Tenant, p *Policy, floors *Floors, now time.Time) error {
	bad := func(field, format string, args ...any) error {
		return privacy.FieldErrorf(field, "invalid-retention-policy", format, args...)
	}
	if !privacy.ValidServiceID(p.ID) {
		return bad("id", "policy id must be 3-40 characters of a-z, 0-9 and '-', starting with a letter")
	}
	if !slices.Contains(Categories, p.Category) {
		return bad("category", "category must be one of %s", strings.Join(Categories, ", "))
	}
	switch p.Scope {
	case ScopeSuite:
		if !IsSuiteCategory(p.Category) {
			return bad("category", "category %q is not one of privops's own records; scope it to a service", p.Category)
		}
		if p.Service != "" || p.TimestampPath != "" {
			return bad("service", "a suite policy names no service and no timestampPath")
		}
		if want := suiteEvent(p.Category); p.From != want {
			return bad("from", "the age of %s counts from %q", p.Category, want)
		}
	case ScopeService:
		if IsSuiteCategory(p.Category) {
			return bad("category", "category %q is privops's own records; use scope suite", p.Category)
		}
		svc := t.Service(p.Service)
		if svc == nil {
			return privacy.FieldErrorf("service", "unknown-service", "no such service")
		}
		if !slices.Contains([]string{FromCreated, FromLastModified, FromAccountClosed}, p.From) {
			return bad("from", "from must be created, last-modified or account-closed")
		}
		switch svc.Kind {
		case privacy.KindCosmos:
			if !validPath(p.TimestampPath) {
				return bad("timestampPath", "timestampPath must be the JSON path (like /a/b) of the item's %s time", p.From)
			}
		case privacy.KindWebhook, privacy.KindServiceBus:
			// Swept through the purge action: the service applies the
			// cutoff to its own timestamps. A service that does not
			// support purge is reported not-supported by the run.
			if p.TimestampPath != "" {
				return bad("timestampPath", "a %s service applies the cutoff to its own %s times; leave timestampPath out", svc.Kind, p.From)
			}
		default:
			return privacy.FieldErrorf("service", "retention-scope-not-available",
				"%s services cannot be swept: privops has no purge to call there (built-in containers are swept directly, webhook and servicebus services through the purge action)", svc.Kind)
		}
	default:
		return bad("scope", "scope must be service or suite")
	}
	if err := checkAction(t, p); err != nil {
		return err
	}
	if p.MaxAgeDays < 1 || p.MaxAgeDays > MaxAgeDaysLimit {
		return bad("maxAgeDays", "maxAgeDays must be between 1 and %d", MaxAgeDaysLimit)
	}
	for _, f := range floors.For(t, p.Category, now) {
		if p.MaxAgeDays < f.MinDays() {
			return privacy.FieldErrorf("maxAgeDays", "below-legal-floor",
				"maxAgeDays %d is below the legal floor %s (regime %s): %s, %d months (%d days); source: %s",
				p.MaxAgeDays, f.ID, f.regime(), f.Rule, f.Months, f.MinDays(), f.Source)
		}
	}
	return nil
}

// suiteEvent is the event the age of privops's own records counts from.
func suiteEvent(c Category) string {
	switch c {
	case CategoryDSRRecords:
		return FromRequestClosed
	case CategoryBreachRecords:
		return FromIncidentClosed
	}
	return FromCreated
}

// validPath accepts /name(/name)* with names of letters, digits, '_' and '-'
// (the shape of a service's identity paths).
func validPath(p string) bool {
	if len(p) < 2 || len(p) > 200 || p[0] != '/' {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" {
			return false
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// checkAction checks the policy's action against what a sweep can carry out
// in its scope:
//   - delete: everywhere;
//   - anonymise: closed requests (dsr-records), whose personal data is
//     stripped and whose stub stays (as delete does there, counted
//     anonymised). Elsewhere privops cannot tell which fields of an item are
//     personal (a built-in container), the purge contract has no anonymise
//     (a webhook service), or there is nothing left once the personal data
//     goes (export packages, codes, bodies): 422;
//   - storage-only (PIPL Art. 47: when deletion is hard, stop all processing
//     but storage and security): the items of a built-in container, marked so
//     that exports and other fan-out skip them. The purge contract has no
//     storage-only, and privops's own records past their time are deleted or
//     stripped, which PIPL prefers: 422.
func checkAction(t *privacy.Tenant, p *Policy) error {
	notAvailable := func(format string, args ...any) error {
		return privacy.FieldErrorf("action", "retention-action-not-available", format, args...)
	}
	switch p.Action {
	case ActionDelete:
		return nil
	case ActionAnonymise:
		if p.Scope == ScopeSuite && p.Category == CategoryDSRRecords {
			return nil
		}
		if p.Scope == ScopeSuite {
			return notAvailable("%s cannot be anonymised: nothing would be left of them; use delete", p.Category)
		}
		return notAvailable("a service's items cannot be anonymised by privops, which cannot tell which of their fields are personal; use delete, or storage-only on a built-in container")
	case ActionStorageOnly:
		if p.Scope == ScopeService {
			if svc := t.Service(p.Service); svc != nil && svc.Kind == privacy.KindCosmos {
				return nil
			}
			return notAvailable("storage-only is available for built-in containers only; the purge action has no storage-only")
		}
		return notAvailable("privops's own records past their time are deleted or stripped; storage-only is for a service's built-in container")
	}
	return privacy.FieldErrorf("action", "invalid-retention-policy", "action must be delete, anonymise or storage-only")
}
