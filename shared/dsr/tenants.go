package dsr

import (
	"context"
	"errors"
	"fmt"

	"github.com/privops/privops/shared/privacy"
)

// TenantSettings are the settings a tenant admin may change.
type TenantSettings struct {
	Name           string   `json:"name"`
	Regimes        []string `json:"regimes"`
	Establishment  []string `json:"establishment"`
	TimeZone       string   `json:"timeZone"`
	PortalOrigins  []string `json:"portalOrigins"`
	PIPLDays       int      `json:"piplDays"`
	LGPDSmallAgent bool     `json:"lgpdSmallAgent"`
	DefaultDays    int      `json:"defaultDays"`
	Contact        string   `json:"contact"`
	// AllowPrivateConnectors lets webhook services live on private addresses.
	AllowPrivateConnectors bool `json:"allowPrivateConnectors"`
	// ErasureGraceDays: the cancellable wait before a hard delete (null: 30).
	ErasureGraceDays *int `json:"erasureGraceDays"`
	// ExportLinkDays: how long download links work (0: 7).
	ExportLinkDays int `json:"exportLinkDays"`
}

// Configure replaces a tenant's settings (guarded by its ETag; ifMatch "" skips
// the check). Requests already received keep the deadlines they were given.
func (s *Service) Configure(ctx context.Context, tenantID, ifMatch string, in TenantSettings, actor Actor) (*privacy.Tenant, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if ifMatch != "" && ifMatch != t.ETag {
		return nil, privacy.Errorf(privacy.KindConflict, "etag-mismatch", "the tenant changed since it was read")
	}
	next := *t
	next.Name, next.Regimes, next.Establishment, next.TimeZone = in.Name, in.Regimes, in.Establishment, in.TimeZone
	next.PortalOrigins, next.PIPLDays, next.LGPDSmallAgent = in.PortalOrigins, in.PIPLDays, in.LGPDSmallAgent
	next.DefaultDays, next.Contact, next.UpdatedAt = in.DefaultDays, in.Contact, s.now()
	next.AllowPrivateConnectors, next.ErasureGraceDays, next.ExportLinkDays = in.AllowPrivateConnectors, in.ErasureGraceDays, in.ExportLinkDays
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if err := s.d.Store.UpdateTenant(ctx, &next); err != nil {
		if errors.Is(err, privacy.ErrConflict) {
			return nil, privacy.Errorf(privacy.KindConflict, "etag-mismatch", "the tenant changed since it was read")
		}
		return nil, fmt.Errorf("update tenant: %w", err)
	}
	a := &privacy.AuditEvent{ID: newID("aud_"), TenantID: t.ID, At: next.UpdatedAt, Actor: actor.String(),
		Action: "tenant.configured", Target: "tenant/" + t.ID}
	if err := s.d.Store.AppendAudit(ctx, a); err != nil {
		return nil, fmt.Errorf("audit tenant change: %w", err)
	}
	return &next, nil
}

// EnsureTenant creates t if it does not exist yet (first start, demo data). It
// reports whether it created it.
func (s *Service) EnsureTenant(ctx context.Context, t *privacy.Tenant) (bool, error) {
	if _, err := s.d.Store.GetTenant(ctx, t.ID); err == nil {
		return false, nil
	} else if !errors.Is(err, privacy.ErrNotFound) {
		return false, fmt.Errorf("get tenant: %w", err)
	}
	t.CreatedAt, t.UpdatedAt = s.now(), s.now()
	if err := t.Validate(); err != nil {
		return false, err
	}
	if err := s.d.Store.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, privacy.ErrConflict) {
			return false, nil
		}
		return false, fmt.Errorf("create tenant: %w", err)
	}
	a := &privacy.AuditEvent{ID: "aud_tenant_created", TenantID: t.ID, At: t.CreatedAt, Actor: "system",
		Action: "tenant.created", Target: "tenant/" + t.ID}
	if err := s.d.Store.AppendAudit(ctx, a); err != nil {
		return true, fmt.Errorf("audit tenant creation: %w", err)
	}
	return true, nil
}

// AuditPage is a page of a tenant's audit trail.
type AuditPage struct {
	Events []privacy.AuditEvent `json:"events"`
	Next   int64                `json:"next,omitempty"` // pass as after= for the next page; 0 at the end
}

// Audit returns up to limit audit events after seq.
func (s *Service) Audit(ctx context.Context, tenantID string, after int64, limit int) (AuditPage, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return AuditPage{}, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	evs, err := s.d.Store.ListAudit(ctx, t.ID, after, limit)
	if err != nil {
		return AuditPage{}, fmt.Errorf("list audit: %w", err)
	}
	page := AuditPage{Events: evs}
	if len(evs) == limit {
		page.Next = evs[len(evs)-1].Seq
	}
	return page, nil
}

// ChainReport is the result of verifying a tenant's audit chain.
type ChainReport struct {
	Valid  bool                `json:"valid"`
	Events int64               `json:"events"`
	Head   string              `json:"head,omitempty"` // hash of the last event
	Break  *privacy.ChainBreak `json:"break,omitempty"`
}

// VerifyAudit walks the tenant's whole chain and reports the first break.
func (s *Service) VerifyAudit(ctx context.Context, tenantID string) (ChainReport, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return ChainReport{}, err
	}
	var seq int64
	var head string
	for {
		evs, err := s.d.Store.ListAudit(ctx, t.ID, seq, 500)
		if err != nil {
			return ChainReport{}, fmt.Errorf("list audit: %w", err)
		}
		if len(evs) == 0 {
			return ChainReport{Valid: true, Events: seq, Head: head}, nil
		}
		if br := privacy.VerifyChain(seq, head, evs); br != nil {
			return ChainReport{Valid: false, Events: seq, Break: br}, nil
		}
		seq, head = evs[len(evs)-1].Seq, evs[len(evs)-1].Hash
	}
}
