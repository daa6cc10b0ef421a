package dsr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

// The operator's side of tenants: onboarding, changes, suspension and
// offboarding, called by the operator API and the `privops tenant` command.
// Every action is audited twice, through the tenant document's audit outbox:
// in the operator's chain (partition privacy.OperatorTenant) and, with the
// same event id, in the tenant's own chain, so its admins see who changed
// their tenant.

// Codes of the operator's tenant operations.
var (
	// ErrTenantSuspended refuses a new request of a suspended tenant (403).
	ErrTenantSuspended = privacy.Errorf(privacy.KindForbidden, "tenant-suspended",
		"this tenant is suspended and takes no new requests; requests already received are still handled")
	// ErrTenantOffboarding refuses a new request of a tenant being
	// offboarded (403), as for a suspended one: its contract is ending.
	ErrTenantOffboarding = privacy.Errorf(privacy.KindForbidden, "tenant-offboarding",
		"this tenant is being offboarded and takes no new requests; requests already received are still handled")
)

// NewTenant is what an operator gives to onboard a tenant: its id and its
// settings (defaults as TenantSettings says).
type NewTenant struct {
	ID string `json:"id"`
	TenantSettings
}

// CreateTenant onboards a tenant. The id is 3-40 of a-z, 0-9 and '-',
// starting with a letter, and not one of the reserved ids (422 naming the
// field); an existing id is a conflict (409 tenant-exists) and changes
// nothing.
func (s *Service) CreateTenant(ctx context.Context, in NewTenant, actor Actor) (*privacy.Tenant, error) {
	if slices.Contains(s.cfg.ReservedTenantIDs, in.ID) || in.ID == privacy.OperatorTenant {
		return nil, privacy.FieldErrorf("id", "reserved-tenant-id", "this id is reserved for the operator")
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	k, err := s.idem(ctx, in.ID, actor, "tenant.created", string(body))
	if err != nil {
		return nil, err
	}
	now := s.now()
	t := &privacy.Tenant{ID: in.ID, CreatedAt: now, UpdatedAt: now}
	in.TenantSettings.apply(t)
	t.Status = privacy.TenantActive
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t.PendingAudit = s.operatorEvents(t.ID, now, actor, "tenant.created", nil)
	k.record(&t.AdminOps, "", now)
	if err := s.d.Store.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, privacy.ErrConflict) {
			return s.replayCreate(ctx, in.ID, k)
		}
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	s.d.Step("tenant-written")
	return s.flushTenantQuietly(ctx, t), nil
}

// replayCreate answers a create whose id exists: with the same
// Idempotency-Key and body as the create that made it (an answer lost in a
// crash or a timeout, sent again), the tenant as stored, its audit outbox
// carried out if the first call died before; with the key of another change,
// idempotency-key-reused; otherwise tenant-exists. Keys are kept 24 hours.
func (s *Service) replayCreate(ctx context.Context, id string, k *opKey) (*privacy.Tenant, error) {
	exists := privacy.Errorf(privacy.KindConflict, "tenant-exists", "a tenant with this id exists")
	if k == nil {
		return nil, exists
	}
	t, err := s.d.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get tenant: %w", err)
	}
	if _, err := k.check(t.AdminOps); !errors.Is(err, errReplay) {
		if err != nil {
			return nil, err
		}
		return nil, exists
	}
	return s.flushTenantQuietly(ctx, t), nil
}

// operatorEvents returns an operator action's audit event for the operator's
// chain and its copy for the tenant's chain (same id).
func (s *Service) operatorEvents(tenantID string, at time.Time, actor Actor, action string, details map[string]string) []privacy.AuditEvent {
	e := privacy.AuditEvent{ID: newID("aud_"), TenantID: privacy.OperatorTenant, At: at, Actor: actor.String(),
		Action: action, Target: "tenant/" + tenantID, Details: details}
	copyForTenant := e
	copyForTenant.TenantID = tenantID
	return []privacy.AuditEvent{e, copyForTenant}
}

// TenantPage is a page of tenants, ordered by id.
type TenantPage struct {
	Tenants []*privacy.Tenant
	Next    string // the cursor of the next page; "" at the end
}

// Tenants pages through every tenant in id order: up to limit (1-200,
// default 50) after cursor (the last id of the previous page). It reads the
// store's tenant listing, which only the operator and the timers use.
func (s *Service) Tenants(ctx context.Context, cursor string, limit int) (TenantPage, error) {
	if cursor != "" && !privacy.ValidTenantID(cursor) {
		return TenantPage{}, privacy.Errorf(privacy.KindInvalid, "invalid-cursor", "cursor must be the next value of a previous page")
	}
	if limit <= 0 {
		limit = 50
	}
	all, err := s.d.Store.ListTenants(ctx)
	if err != nil {
		return TenantPage{}, fmt.Errorf("list tenants: %w", err)
	}
	slices.SortFunc(all, func(a, b *privacy.Tenant) int { return strings.Compare(a.ID, b.ID) })
	i, _ := slices.BinarySearchFunc(all, cursor, func(t *privacy.Tenant, id string) int { return strings.Compare(t.ID, id) })
	if cursor != "" && i < len(all) && all[i].ID == cursor {
		i++
	}
	page := TenantPage{Tenants: all[i:min(i+limit, len(all))]}
	if i+limit < len(all) {
		page.Next = page.Tenants[len(page.Tenants)-1].ID
	}
	return page, nil
}

// UpdateTenant replaces a tenant's settings as the operator, guarded by
// ifMatch (required: "" is 428 if-match-required; a stale one is
// ErrStaleETag, 412). Audited in both chains, naming the changed settings.
func (s *Service) UpdateTenant(ctx context.Context, tenantID, ifMatch string, in TenantSettings, actor Actor) (*privacy.Tenant, error) {
	if ifMatch == "" {
		return nil, privacy.Errorf(privacy.KindPreconditionRequired, "if-match-required", "send the tenant's ETag in If-Match")
	}
	return s.UpdateTenantWith(ctx, tenantID, ifMatch, func(TenantSettings) (TenantSettings, error) { return in, nil }, actor)
}

// UpdateTenantWith is UpdateTenant with the new settings computed from the
// current ones (a merge patch). ifMatch "" applies change to the current
// version (the CLI without --if-match), re-running it on a concurrent write.
func (s *Service) UpdateTenantWith(ctx context.Context, tenantID, ifMatch string, change SettingsChange, actor Actor) (*privacy.Tenant, error) {
	return s.writeTenant(ctx, tenantID, ifMatch, func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		in, err := change(SettingsOf(t))
		if err != nil {
			return nil, err
		}
		changed := in.apply(t)
		return s.operatorEvents(t.ID, now, actor, "tenant.updated", map[string]string{"fields": strings.Join(changed, ",")}), nil
	})
}

// SuspendTenant stops a tenant taking new requests (portal, admin on behalf,
// inbound queue: ErrTenantSuspended); requests already received run to their
// end and its admins keep reading. A reason (1-500 characters) is required;
// a suspended tenant is a conflict (409 tenant-suspended-already).
func (s *Service) SuspendTenant(ctx context.Context, tenantID, reason string, actor Actor) (*privacy.Tenant, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return nil, privacy.FieldErrorf("reason", "reason-required", "a reason of at most 500 characters is required")
	}
	return s.writeTenant(ctx, tenantID, "", func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		if t.Suspended() {
			return nil, privacy.Errorf(privacy.KindConflict, "tenant-suspended-already", "the tenant is suspended already")
		}
		if t.IsOffboarding() {
			return nil, errOffboardingAlready
		}
		t.Status, t.Suspension = privacy.TenantSuspended, &privacy.Suspension{At: now, By: actor.String(), Reason: reason}
		return s.operatorEvents(t.ID, now, actor, "tenant.suspended", map[string]string{"reason": reason}), nil
	})
}

// ResumeTenant lets a suspended tenant take new requests again; an active tenant is
// a conflict (409 tenant-not-suspended).
func (s *Service) ResumeTenant(ctx context.Context, tenantID string, actor Actor) (*privacy.Tenant, error) {
	return s.writeTenant(ctx, tenantID, "", func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		if !t.Suspended() {
			return nil, privacy.Errorf(privacy.KindConflict, "tenant-not-suspended", "the tenant is not suspended")
		}
		t.Status, t.Suspension = privacy.TenantActive, nil
		return s.operatorEvents(t.ID, now, actor, "tenant.resumed", nil), nil
	})
}

// OperatorAudit returns up to limit events of the operator's chain after seq.
func (s *Service) OperatorAudit(ctx context.Context, after int64, limit int) (AuditPage, error) {
	return s.chainPage(ctx, privacy.OperatorTenant, after, limit)
}

// VerifyOperatorAudit walks the operator's whole chain and reports the first break.
func (s *Service) VerifyOperatorAudit(ctx context.Context) (ChainReport, error) {
	return s.verifyChain(ctx, privacy.OperatorTenant)
}
