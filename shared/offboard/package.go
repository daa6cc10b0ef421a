package offboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/privops/privops/shared/export"
	"github.com/privops/privops/shared/privacy"
)

// The return package (GDPR Art. 28(3)(g), "return"): the tenant's own
// records, built with the export machinery into one zip in the blob store,
// one file per kind (services/<kind>.json in the export layout): settings,
// services (without their signing secrets), legal holds, retention policies
// and runs, requests, the inbound ledger, the breach notices the processor
// sent it and the full audit chain (not the data-subject recipient lists of
// its breach campaigns: the controller uploaded them from its own records). It holds
// no subject identifier that the tenant's records do not hold already, and no
// secret (service secrets and inbound keys are left out). It is deleted with
// everything else at the purge, or at a cancel.

// packageRequestID stands in the manifest's request id.
const packageRequestID = "offboarding"

// PackageBlob is the blob name of an offboarding's return package.
func PackageBlob(tenantID, offboardingID string) string {
	return tenantID + "/offboarding/" + offboardingID + ".zip"
}

// buildPackage streams the package into the blob store and records it on
// the tenant (audited in both chains). A rebuild after a crash writes the
// same blob again.
func (o *Offboarder) buildPackage(ctx context.Context, t *privacy.Tenant) (*privacy.Tenant, error) {
	ob := t.Offboarding
	name := PackageBlob(t.ID, ob.ID)
	now := o.now()
	pr, pw := io.Pipe()
	var m export.Manifest
	done := make(chan error, 1)
	go func() {
		var err error
		m, err = export.Write(ctx, pw, export.Manifest{TenantID: t.ID, RequestID: packageRequestID, CreatedAt: now}, o.parts(t), export.Options{})
		pw.CloseWithError(err)
		done <- err
	}()
	n, putErr := o.d.Blobs.Put(ctx, name, pr)
	pr.CloseWithError(errors.New("blob upload ended"))
	if werr := <-done; werr != nil {
		return nil, fmt.Errorf("build return package: %w", werr)
	}
	if putErr != nil {
		return nil, fmt.Errorf("store return package: %w", putErr)
	}
	o.d.Step("offboard-package-stored")
	ob.Package = &privacy.OffboardPackage{Blob: name, Bytes: n, Files: len(m.Files), CreatedAt: now}
	return o.write(ctx, t, "offboard-packaged", o.events(t, "tenant.offboarding-packaged", map[string]string{
		"offboarding": ob.ID, "bytes": strconv.FormatInt(n, 10), "files": strconv.Itoa(len(m.Files))})...)
}

// parts are the package's files, one per kind of record.
func (o *Offboarder) parts(t *privacy.Tenant) []export.Part {
	services := make([]privacy.Service, len(t.Services))
	for i, s := range t.Services {
		s.Secrets = nil // never returned, as the admin API never returns them
		services[i] = s
	}
	settings := *t
	settings.Services, settings.Holds, settings.RetentionPolicies, settings.Retention = nil, nil, nil, nil
	settings.InboundKeys, settings.AdminOps, settings.PendingAudit, settings.Offboarding = nil, nil, nil, nil
	var retention []json.RawMessage
	if len(t.Retention) > 0 {
		retention = append(retention, t.Retention)
	}
	return []export.Part{
		{Service: "settings", Name: "Tenant settings", Open: fixed([]any{settings})},
		{Service: "services", Name: "Services (without signing secrets)", Open: fixed(services)},
		{Service: "legal-holds", Name: "Legal holds", Open: fixed(privacy.PublicHolds(t.Holds))},
		{Service: "retention-policies", Name: "Retention policies", Open: fixed(t.RetentionPolicies)},
		{Service: "retention-runs", Name: "Retention runs", Open: fixed(retention)},
		{Service: "requests", Name: "Data subject requests", Open: o.stream(func(ctx context.Context, emit func(any) error) error {
			f := privacy.RequestFilter{Limit: 200}
			for {
				page, err := o.d.Store.ListRequests(ctx, t.ID, f)
				if err != nil {
					return err
				}
				for _, r := range page.Requests {
					if err := emit(r); err != nil {
						return err
					}
				}
				if page.Next == "" {
					return nil
				}
				f.Cursor = page.Next
			}
		})},
		{Service: "inbound", Name: "Inbound ledger", Open: o.stream(func(ctx context.Context, emit func(any) error) error {
			if o.d.Inbound == nil {
				return nil
			}
			f := privacy.InboundFilter{Limit: 100}
			for {
				page, err := o.d.Inbound.ListInbound(ctx, t.ID, f)
				if err != nil {
					return err
				}
				for _, r := range page.Records {
					if err := emit(r); err != nil {
						return err
					}
				}
				if page.Next == "" {
					return nil
				}
				f.Cursor = page.Next
			}
		})},
		{Service: "breach-notices", Name: "Breach notices", Open: o.stream(func(ctx context.Context, emit func(any) error) error {
			// The notices the processor sent the controller (GDPR Art.
			// 33(2)), with their clocks, deliveries and acknowledgements.
			// Not the data-subject recipient lists: the controller uploaded
			// them and holds them already; they are only deleted.
			if o.d.Notices == nil {
				return nil
			}
			return o.d.Notices(ctx, t.ID, emit)
		})},
		{Service: "audit", Name: "Audit chain", Open: o.stream(func(ctx context.Context, emit func(any) error) error {
			var seq int64
			for {
				evs, err := o.d.Store.ListAudit(ctx, t.ID, seq, 500)
				if err != nil {
					return err
				}
				if len(evs) == 0 {
					return nil
				}
				for _, e := range evs {
					if err := emit(e); err != nil {
						return err
					}
				}
				seq = evs[len(evs)-1].Seq
			}
		})},
	}
}

// fixed opens {"items": items}.
func fixed[T any](items []T) func(context.Context) (io.ReadCloser, error) {
	return func(context.Context) (io.ReadCloser, error) {
		if items == nil {
			items = []T{}
		}
		b, err := json.Marshal(struct {
			Items []T `json:"items"`
		}{items})
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
}

// stream opens {"items": [...]} written item by item as walk emits them,
// through a pipe: never the whole list in memory.
func (o *Offboarder) stream(walk func(ctx context.Context, emit func(any) error) error) func(context.Context) (io.ReadCloser, error) {
	return func(ctx context.Context) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			first := true
			_, err := io.WriteString(pw, `{"items":[`)
			if err == nil {
				err = walk(ctx, func(v any) error {
					b, err := json.Marshal(v)
					if err != nil {
						return err
					}
					if !first {
						if _, err := pw.Write([]byte{','}); err != nil {
							return err
						}
					}
					first = false
					_, err = pw.Write(b)
					return err
				})
			}
			if err == nil {
				_, err = io.WriteString(pw, "]}")
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}
}
