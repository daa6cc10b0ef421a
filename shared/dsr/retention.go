package dsr

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
)

// PutRetentionPolicy creates or replaces one of the tenant's retention
// policies (one ETag-guarded write of the tenant document, audited through its
// outbox). The policy is checked against the legal floors that bind the
// tenant now (retention.Validate: a policy below one is 422
// below-legal-floor, naming the floor and its source); the sweep checks the
// floors again on every item. It reports whether the policy is new.
func (s *Service) PutRetentionPolicy(ctx context.Context, tenantID string, in privacy.RetentionPolicy, actor Actor) (*privacy.RetentionPolicy, bool, error) {
	var out privacy.RetentionPolicy
	created := false
	_, err := s.writeTenant(ctx, tenantID, "", func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		p := in
		p.LastPreview, p.Approved = nil, nil // read only: set by previews and approvals
		if err := retention.Validate(t, &p, retention.DefaultFloors(), now); err != nil {
			return nil, err
		}
		p.UpdatedAt = now
		if old := t.RetentionPolicy(p.ID); old != nil {
			p.CreatedAt = old.CreatedAt
			if samePolicy(*old, p) {
				// The same policy sent again: its approval and preview stand.
				p.UpdatedAt, p.LastPreview, p.Approved = old.UpdatedAt, old.LastPreview, old.Approved
			} else {
				// A changed policy needs a new preview and approval (its
				// last preview is older than the change: refused).
				p.LastPreview = old.LastPreview
			}
			*old = p
			created = false
		} else {
			if len(t.RetentionPolicies) >= retention.MaxPolicies {
				return nil, privacy.Errorf(privacy.KindUnprocessable, "too-many-retention-policies", "a tenant has at most %d retention policies", retention.MaxPolicies)
			}
			p.CreatedAt, created = now, true
			t.RetentionPolicies = append(t.RetentionPolicies, p)
		}
		out = p
		return retentionEvents(t.ID, now, actor, "retention-policy.configured", p.ID,
			map[string]string{"category": p.Category, "scope": p.Scope, "maxAgeDays": strconv.Itoa(p.MaxAgeDays), "action": p.Action}), nil
	})
	if err != nil {
		return nil, false, err
	}
	return &out, created, nil
}

// DeleteRetentionPolicy removes one of the tenant's retention policies
// (audited). Its data is then kept until another policy covers it.
func (s *Service) DeleteRetentionPolicy(ctx context.Context, tenantID, id string, actor Actor) error {
	_, err := s.writeTenant(ctx, tenantID, "", func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		i := slices.IndexFunc(t.RetentionPolicies, func(p privacy.RetentionPolicy) bool { return p.ID == id })
		if i < 0 {
			return nil, errUnknownPolicy
		}
		t.RetentionPolicies = slices.Delete(t.RetentionPolicies, i, i+1)
		if len(t.RetentionPolicies) == 0 {
			t.RetentionPolicies = nil
		}
		return retentionEvents(t.ID, now, actor, "retention-policy.deleted", id, nil), nil
	})
	return err
}

// retentionEvents is a policy change's audit event in the tenant's chain and,
// when the operator made it (privops retention), a copy with the same id in
// the operator's chain, as every operator action has.
func retentionEvents(tenantID string, at time.Time, actor Actor, action, policyID string, details map[string]string) []privacy.AuditEvent {
	e := privacy.AuditEvent{ID: newID("aud_"), TenantID: tenantID, At: at, Actor: actor.String(), Action: action,
		Target: "retention-policy/" + policyID, Details: details}
	if actor.Operator == "" {
		return []privacy.AuditEvent{e}
	}
	op := e
	op.TenantID, op.Target = privacy.OperatorTenant, "tenant/"+tenantID+"/retention-policy/"+policyID
	return []privacy.AuditEvent{op, e}
}

var errUnknownPolicy = privacy.Errorf(privacy.KindNotFound, "unknown-retention-policy", "no such retention policy")

// RetentionPolicy returns one of the tenant's retention policies.
func (s *Service) RetentionPolicy(ctx context.Context, tenantID, id string) (*privacy.RetentionPolicy, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	p := t.RetentionPolicy(id)
	if p == nil {
		return nil, errUnknownPolicy
	}
	return p, nil
}

// RetentionFloors returns the legal floors that bind the tenant's data now,
// whatever its policies say.
func (s *Service) RetentionFloors(ctx context.Context, tenantID string) ([]retention.Floor, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := []retention.Floor{}
	for _, c := range retention.Categories {
		out = append(out, retention.DefaultFloors().For(t, c, s.now())...)
	}
	return out, nil
}

// serviceInUse refuses a change that would leave a retention policy scoped to
// a service it can no longer sweep as the policy says (deleted, or turned into
// another kind: a built-in container's timestampPath means nothing to a
// webhook service's purge, and a Service Bus service cannot be swept).
func serviceInUse(t *privacy.Tenant, id string) error {
	for _, p := range t.RetentionPolicies {
		if p.Scope == retention.ScopeService && p.Service == id {
			return privacy.Errorf(privacy.KindConflict, "service-in-use",
				"retention policy %s is scoped to this service; change or delete it first", p.ID)
		}
	}
	return nil
}

// samePolicy reports whether a and b say the same (what a sweep does by them).
func samePolicy(a, b privacy.RetentionPolicy) bool {
	return a.Category == b.Category && a.Scope == b.Scope && a.Service == b.Service && a.MaxAgeDays == b.MaxAgeDays &&
		a.From == b.From && a.TimestampPath == b.TimestampPath && a.Action == b.Action && a.SignOff == b.SignOff
}

// ApproveRetentionPolicy approves the latest preview of a policy that needs
// sign-off, so its runs may purge (one ETag-guarded tenant write, audited
// retention-policy.approved with the preview's time and counts). Refused with
// 409: sign-off-not-required, no-preview (preview the policy first),
// preview-outdated (the policy changed after its latest preview). Approving
// the approved preview again answers the policy as it is. It accepts the
// call's Idempotency-Key as other admin changes do.
func (s *Service) ApproveRetentionPolicy(ctx context.Context, tenantID, id string, actor Actor) (*privacy.RetentionPolicy, error) {
	k, err := s.idem(ctx, tenantID, actor, "retention-policy.approved", id)
	if err != nil {
		return nil, err
	}
	var out privacy.RetentionPolicy
	_, err = s.writeTenant(ctx, tenantID, "", func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		p := t.RetentionPolicy(id)
		if p == nil {
			return nil, errUnknownPolicy
		}
		out = *p
		if _, err := k.check(t.AdminOps); err != nil {
			return nil, err
		}
		conflict := func(code, format string, args ...any) error {
			return privacy.Errorf(privacy.KindConflict, code, format, args...)
		}
		switch {
		case !p.SignOff:
			return nil, conflict("sign-off-not-required", "this policy does not need sign-off; its runs purge without one")
		case p.LastPreview == nil:
			return nil, conflict("no-preview", "preview the policy first (POST …/retention/preview?policy=%s), then approve that preview", id)
		case p.LastPreview.At.Before(p.UpdatedAt):
			return nil, conflict("preview-outdated", "the policy changed after its latest preview; preview it again and approve that")
		case p.Approved != nil && p.Approved.PreviewAt.Equal(p.LastPreview.At):
			return nil, errReplay // approved already: nothing to write
		}
		p.Approved = &privacy.RetentionApproval{By: actor.String(), At: now, PreviewAt: p.LastPreview.At}
		k.record(&t.AdminOps, id, now)
		out = *p
		return retentionEvents(t.ID, now, actor, "retention-policy.approved", id, map[string]string{
			"previewAt": p.LastPreview.At.Format(time.RFC3339Nano), "scanned": strconv.FormatInt(p.LastPreview.Scanned, 10),
			"purged": strconv.FormatInt(p.LastPreview.Purged, 10), "keptByHold": strconv.FormatInt(p.LastPreview.KeptByHold, 10),
			"keptByFloor": strconv.FormatInt(p.LastPreview.KeptByFloor, 10)}), nil
	})
	if errors.Is(err, errReplay) {
		return s.RetentionPolicy(ctx, tenantID, id)
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}
