package offboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// State names where an offboarding is, as the operator sees it.
type State string

// States of View.
const (
	StateWaiting    State = "notice-period" // the notice period runs
	StateHeld       State = "held"          // due, kept back by legal holds
	StatePurging    State = "purging"       // the purge runs
	StateOffboarded State = "offboarded"    // purged and certified; the tenant is gone
)

// View is what the operator sees of an offboarding: its state, the package
// link, what holds it back (hold ids and categories, never a subject), the
// purge's counts, and once done the signed certificate.
type View struct {
	TenantID    string                 `json:"tenantId"`
	State       State                  `json:"state"`
	ID          string                 `json:"id"`
	Choice      privacy.OffboardChoice `json:"choice,omitempty"`
	RequestedAt *time.Time             `json:"requestedAt,omitempty"`
	RequestedBy string                 `json:"requestedBy,omitempty"`
	PurgeAfter  *time.Time             `json:"purgeAfter,omitempty"`
	Package     *PackageView           `json:"package,omitempty"`
	Blocked     *privacy.OffboardBlock `json:"heldBy,omitempty"`
	Purge       *privacy.OffboardPurge `json:"purge,omitempty"`
	// Certificate is the sealed certificate (a flattened JWS whose
	// "certificate" member repeats the signed content), once offboarded.
	Certificate json.RawMessage `json:"certificate,omitempty"`
}

// PackageView is the return package with its download link.
type PackageView struct {
	Bytes int64  `json:"bytes"`
	Files int    `json:"files"`
	Link  string `json:"link"`
}

func stamp(t time.Time) *time.Time { return &t }

var (
	errUnknownTenant = privacy.Errorf(privacy.KindNotFound, "unknown-tenant", "no such tenant")
	errNoOffboarding = privacy.Errorf(privacy.KindNotFound, "no-offboarding", "this tenant is not being offboarded")
)

// View returns the offboarding of a tenant: its progress while the tenant
// exists, its certificate once the tenant is gone.
func (o *Offboarder) View(ctx context.Context, tenantID string) (View, error) {
	if !privacy.ValidTenantID(tenantID) {
		return View{}, errUnknownTenant
	}
	t, err := o.d.Store.GetTenant(ctx, tenantID)
	if errors.Is(err, privacy.ErrNotFound) {
		doc, id, err := o.certificate(ctx, tenantID)
		if err != nil {
			return View{}, err
		}
		if doc == nil {
			return View{}, errUnknownTenant
		}
		return View{TenantID: tenantID, State: StateOffboarded, ID: id, Certificate: doc}, nil
	}
	if err != nil {
		return View{}, fmt.Errorf("get tenant: %w", err)
	}
	ob := t.Offboarding
	if !t.IsOffboarding() || ob == nil {
		return View{}, errNoOffboarding
	}
	v := View{TenantID: t.ID, State: StateWaiting, ID: ob.ID, Choice: ob.Choice, RequestedAt: stamp(ob.RequestedAt),
		RequestedBy: ob.By, PurgeAfter: stamp(ob.PurgeAfter), Blocked: ob.Blocked, Purge: ob.Purge}
	switch {
	case ob.Purge != nil && ob.Blocked == nil:
		v.State = StatePurging
	case ob.Blocked != nil:
		v.State = StateHeld
	}
	if p := ob.Package; p != nil && ob.Purge == nil && o.d.Link != nil {
		v.Package = &PackageView{Bytes: p.Bytes, Files: p.Files, Link: o.d.Link(t)}
	}
	return v, nil
}

// certificate finds the newest offboarding certificate of tenantID in the
// operator's chain (nil if none). The chain holds operator actions only, so
// the walk is short.
func (o *Offboarder) certificate(ctx context.Context, tenantID string) (json.RawMessage, string, error) {
	var seq int64
	var doc json.RawMessage
	var id string
	for {
		evs, err := o.d.Store.ListAudit(ctx, privacy.OperatorTenant, seq, 500)
		if err != nil {
			return nil, "", fmt.Errorf("list operator audit: %w", err)
		}
		if len(evs) == 0 {
			return doc, id, nil
		}
		for _, e := range evs {
			if e.Action == ActionOffboarded && e.Target == "tenant/"+tenantID {
				doc, id = json.RawMessage(e.Details["certificate"]), e.Details["offboarding"]
			}
		}
		seq = evs[len(evs)-1].Seq
	}
}

// Download opens an offboarding tenant's return package for a signed link
// (Deps.CheckLink) and audits the download in both chains before the first
// byte. A forged link, or one of an earlier offboarding, answers 404; one
// past its time (the purge) 410.
func (o *Offboarder) Download(ctx context.Context, tenantID, expires, sig string) (io.ReadCloser, int64, error) {
	unknown := privacy.Errorf(privacy.KindNotFound, "unknown-package", "no such package")
	if !privacy.ValidTenantID(tenantID) || o.d.CheckLink == nil {
		return nil, 0, unknown
	}
	t, err := o.d.Store.GetTenant(ctx, tenantID)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, 0, unknown
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get tenant: %w", err)
	}
	ob := t.Offboarding
	if ob == nil || ob.Package == nil || !o.d.CheckLink(t.ID, ob.ID, expires, sig) ||
		expires != strconv.FormatInt(ob.PurgeAfter.Unix(), 10) {
		return nil, 0, unknown
	}
	if ob.Purge != nil || !o.now().Before(ob.PurgeAfter) {
		return nil, 0, privacy.Errorf(privacy.KindGone, "link-expired", "the notice period has ended; the package is deleted with the tenant's data")
	}
	rc, n, err := o.d.Blobs.Open(ctx, ob.Package.Blob)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, 0, privacy.Errorf(privacy.KindGone, "package-removed", "the package has been removed")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open package: %w", err)
	}
	for _, e := range o.events(t, "tenant.offboarding-package-downloaded", map[string]string{"offboarding": ob.ID, "bytes": strconv.FormatInt(n, 10)}) {
		e.Actor = "controller"
		if err := o.d.Store.AppendAudit(ctx, &e); err != nil {
			rc.Close()
			return nil, 0, fmt.Errorf("audit download: %w", err) // no unaudited download
		}
	}
	return rc, n, nil
}
