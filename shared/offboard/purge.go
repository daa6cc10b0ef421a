package offboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// block records that active legal holds keep a due purge from starting or
// going on (audited once per change of the set of holds): ids, scopes and
// categories only, never a hold's subject or reason.
func (o *Offboarder) block(ctx context.Context, t *privacy.Tenant, holds []privacy.HoldRef, now time.Time) error {
	ob := t.Offboarding
	if ob.Blocked != nil && slices.Equal(ob.Blocked.Holds, holds) {
		return nil
	}
	ids := make([]string, len(holds))
	for i, h := range holds {
		ids[i] = h.ID
	}
	ob.Blocked = &privacy.OffboardBlock{Since: now, Holds: holds}
	_, err := o.write(ctx, t, "offboard-blocked", o.events(t, "tenant.offboarding-held",
		map[string]string{"offboarding": ob.ID, "holds": strings.Join(ids, ",")})...)
	return err
}

// count returns how many of kind the tenant holds now.
func (o *Offboarder) count(ctx context.Context, t *privacy.Tenant, kind string) (int, error) {
	switch kind {
	case kindBlobs:
		n := 0
		err := o.eachBlob(ctx, t, func(name string) error {
			rc, _, err := o.d.Blobs.Open(ctx, name)
			if errors.Is(err, privacy.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			rc.Close()
			n++
			return nil
		})
		return n, err
	case kindMessages:
		if o.d.Messages == nil {
			return 0, nil
		}
		return o.d.Messages.CountTenantMessages(ctx, t.ID)
	case privacy.DataKindBreachRecipients, privacy.DataKindBreachLedger, privacy.DataKindBreachCampaigns:
		if o.d.Subjects == nil {
			return 0, nil
		}
		return o.d.Subjects.CountTenantData(ctx, t.ID, kind)
	default:
		return o.d.Data.CountTenantData(ctx, t.ID, kind)
	}
}

// eachBlob calls fn with every blob the tenant's records name: export
// packages, services' stored exports, the return package.
func (o *Offboarder) eachBlob(ctx context.Context, t *privacy.Tenant, fn func(name string) error) error {
	if p := t.Offboarding.Package; p != nil {
		if err := fn(p.Blob); err != nil {
			return err
		}
	}
	f := privacy.RequestFilter{Limit: 200}
	for {
		page, err := o.d.Store.ListRequests(ctx, t.ID, f)
		if err != nil {
			return fmt.Errorf("list requests: %w", err)
		}
		for _, r := range page.Requests {
			if r.Package != nil && r.Package.Blob != "" {
				if err := fn(r.Package.Blob); err != nil {
					return err
				}
			}
			for _, task := range r.Tasks {
				if task.Blob != "" {
					if err := fn(task.Blob); err != nil {
						return err
					}
				}
			}
		}
		if page.Next == "" {
			return nil
		}
		f.Cursor = page.Next
	}
}

// stopCampaigns stops the tenant's data-subject campaigns and returns how
// many of their deliveries are still in flight (0 without a fan-out).
func (o *Offboarder) stopCampaigns(ctx context.Context, t *privacy.Tenant) (int, error) {
	if o.d.Campaigns == nil {
		return 0, nil
	}
	n, err := o.d.Campaigns.StopTenant(ctx, t.ID)
	if err != nil {
		return 0, fmt.Errorf("stop breach campaigns: %w", err)
	}
	o.d.Step("offboard-campaigns-stopped")
	return n, nil
}

// startPurge counts what the tenant holds, kind by kind (the certificate's
// counts), and records the start: from here the offboarding cannot be
// cancelled. Audited in both chains.
func (o *Offboarder) startPurge(ctx context.Context, t *privacy.Tenant, now time.Time) (*privacy.Tenant, error) {
	found := map[string]int{}
	for _, kind := range purgeOrder {
		n, err := o.count(ctx, t, kind)
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", kind, err)
		}
		found[kind] = n
	}
	ob := t.Offboarding
	ob.Blocked = nil
	ob.Purge = &privacy.OffboardPurge{StartedAt: now, Found: found}
	details := map[string]string{"offboarding": ob.ID}
	for k, n := range found {
		details[k] = strconv.Itoa(n)
	}
	evs := o.events(t, "tenant.offboarding-purge-started", details)
	// The start event's copy in the tenant's chain is purged with it.
	found[privacy.DataKindAudit] += len(evs) - 1
	return o.write(ctx, t, "offboard-purge-started", evs...)
}

// purge deletes the kinds not yet done, page by page, marking each done on
// the tenant document once it is empty. It stops when the budget (counted
// from start) runs out, reporting whether every kind is done.
func (o *Offboarder) purge(ctx context.Context, t *privacy.Tenant, start time.Time) (bool, error) {
	p := t.Offboarding.Purge
	for _, kind := range purgeOrder {
		if slices.Contains(p.Done, kind) {
			continue
		}
		for {
			if o.d.Now().Sub(start) > o.cfg.Budget {
				return false, nil
			}
			n, err := o.purgePage(ctx, t, kind)
			if err != nil {
				return false, fmt.Errorf("purge %s: %w", kind, err)
			}
			if n == 0 {
				break
			}
			o.d.Step("offboard-page")
		}
		// Nothing left of kind: record it, so a later run skips it.
		p.Done = append(p.Done, kind)
		var err error
		if t, err = o.write(ctx, t, "offboard-kind-done"); err != nil {
			return false, err
		}
		p = t.Offboarding.Purge
	}
	return true, nil
}

// purgePage deletes up to a page of kind and returns how many it deleted.
func (o *Offboarder) purgePage(ctx context.Context, t *privacy.Tenant, kind string) (int, error) {
	switch kind {
	case kindBlobs:
		// Deleting an absent blob is no error, so the whole walk is one
		// idempotent page, done once it deleted everything.
		return 0, o.eachBlob(ctx, t, func(name string) error { return o.d.Blobs.Delete(ctx, name) })
	case kindMessages:
		if o.d.Messages == nil {
			return 0, nil
		}
		return o.d.Messages.PurgeTenantMessages(ctx, t.ID, o.cfg.PageSize)
	case privacy.DataKindBreachRecipients, privacy.DataKindBreachLedger, privacy.DataKindBreachCampaigns:
		if o.d.Subjects == nil {
			return 0, nil
		}
		return o.d.Subjects.PurgeTenantData(ctx, t.ID, kind, o.cfg.PageSize)
	default:
		return o.d.Data.PurgeTenantData(ctx, t.ID, kind, o.cfg.PageSize)
	}
}

// Certificate is the offboarding certificate's content: what was purged of
// the tenant, when, on whose request, signed with the certificate key.
type Certificate struct {
	Type           string        `json:"type"`
	ID             string        `json:"id"`
	TenantID       string        `json:"tenantId"`
	Legal          string        `json:"legal"`
	Choice         string        `json:"choice"`
	RequestedAt    time.Time     `json:"requestedAt"`
	RequestedBy    string        `json:"requestedBy"`
	PurgeAfter     time.Time     `json:"purgeAfter"`
	PurgeStartedAt time.Time     `json:"purgeStartedAt"`
	CompletedAt    time.Time     `json:"completedAt"`
	Package        *PackageFacts `json:"returnPackage,omitempty"`
	// Deleted is what the tenant held, kind by kind, when the purge started
	// (its own start event included); Remaining what was left at the end.
	Deleted   map[string]int `json:"deleted"`
	Remaining map[string]int `json:"remaining"`
	// NotCovered names what the purge cannot reach from here.
	NotCovered []string `json:"notCovered,omitempty"`
}

// PackageFacts describe the return package the controller was given.
type PackageFacts struct {
	Bytes     int64     `json:"bytes"`
	Files     int       `json:"files"`
	CreatedAt time.Time `json:"createdAt"`
}

// CertificateType is the certificate's "type".
const CertificateType = "privops-offboarding-certificate/1"

// certify counts what is left (nothing, once every kind is done), seals the
// certificate and appends it to the operator's chain, where it outlives the
// tenant: one event with the offboarding's own id, so a second run after a
// crash appends nothing (AppendAudit is idempotent by id).
func (o *Offboarder) certify(ctx context.Context, t *privacy.Tenant) error {
	ob := t.Offboarding
	remaining := map[string]int{}
	for _, kind := range purgeOrder {
		n, err := o.count(ctx, t, kind)
		if err != nil {
			return fmt.Errorf("count %s: %w", kind, err)
		}
		remaining[kind] = n
	}
	c := Certificate{Type: CertificateType, ID: ob.ID, TenantID: t.ID, Legal: "GDPR Art. 28(3)(g)", Choice: string(ob.Choice),
		RequestedAt: ob.RequestedAt, RequestedBy: ob.By, PurgeAfter: ob.PurgeAfter, PurgeStartedAt: ob.Purge.StartedAt,
		CompletedAt: o.now(), Deleted: ob.Purge.Found, Remaining: remaining}
	if p := ob.Package; p != nil {
		c.Package = &PackageFacts{Bytes: p.Bytes, Files: p.Files, CreatedAt: p.CreatedAt}
	}
	if o.d.Messages == nil {
		c.NotCovered = append(c.NotCovered, "messages on Service Bus queues (they carry ids only; a message of a deleted tenant is dropped when consumed)")
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return err
	}
	doc, err := o.d.Seal(payload)
	if err != nil {
		return fmt.Errorf("seal certificate: %w", err)
	}
	e := &privacy.AuditEvent{ID: "aud_" + ob.ID, TenantID: privacy.OperatorTenant, At: c.CompletedAt, Actor: "system:offboard",
		Action: ActionOffboarded, Target: "tenant/" + t.ID, Details: map[string]string{"offboarding": ob.ID, "certificate": string(doc)}}
	if err := o.d.Store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("append certificate: %w", err)
	}
	o.d.Step("offboard-certified")
	return nil
}

// ActionOffboarded is the operator chain's event holding the certificate.
const ActionOffboarded = "tenant.offboarded"
