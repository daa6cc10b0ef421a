package dsr

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/privops/privops/shared/certificate"
	"github.com/privops/privops/shared/privacy"
)

// The operator's side of offboarding (GDPR Art. 28(3)(g): at the end of the
// processing services, delete or return all personal data at the
// controller's choice, and delete existing copies). OffboardTenant records
// the request on the tenant document and moves the tenant to
// TenantOffboarding, which refuses new requests as a suspension does;
// shared/offboard carries it out (return package, notice period, purge,
// certificate), driven by the hourly deadline watch.

// Codes of offboarding.
var (
	errOffboardingAlready = privacy.Errorf(privacy.KindConflict, "tenant-offboarding-already",
		"the tenant is being offboarded already")
	errNotOffboarding = privacy.Errorf(privacy.KindConflict, "tenant-not-offboarding",
		"the tenant is not being offboarded")
	// ErrPurgeStarted refuses a cancel once the purge began: part of the
	// tenant's data may be gone already.
	ErrPurgeStarted = privacy.Errorf(privacy.KindConflict, "offboarding-purge-started",
		"the purge of this tenant has started and cannot be cancelled")
)

// OffboardTenant starts the end of a tenant's contract: the tenant takes no
// new requests (ErrTenantOffboarding), requests already received may finish,
// and after the notice period (OFFBOARD_NOTICE) everything of it is purged;
// with choice return-then-delete a package of its records and audit chain is
// built for the controller first. ifMatch guards the change ("" applies it to
// the current version: the CLI without --if-match; a stale one is
// ErrStaleETag). A call with an Idempotency-Key already used for the same
// offboarding answers the tenant as it is now. Audited in the operator's
// chain and the tenant's.
func (s *Service) OffboardTenant(ctx context.Context, tenantID, ifMatch string, choice privacy.OffboardChoice, actor Actor) (*privacy.Tenant, error) {
	if choice != privacy.OffboardReturnThenDelete && choice != privacy.OffboardDelete {
		return nil, privacy.FieldErrorf("choice", "invalid-offboard-choice", "choice must be return-then-delete or delete")
	}
	k, err := s.idem(ctx, tenantID, actor, "tenant.offboard", string(choice))
	if err != nil {
		return nil, err
	}
	if t, done, err := s.replayed(ctx, tenantID, k); done {
		return t, err
	}
	t, err := s.writeTenant(ctx, tenantID, ifMatch, func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		if _, err := k.check(t.AdminOps); err != nil {
			return nil, err
		}
		if t.IsOffboarding() {
			return nil, errOffboardingAlready
		}
		o := &privacy.Offboarding{ID: newID("off_"), Choice: choice, RequestedAt: now, By: actor.String(),
			PurgeAfter: now.Add(s.cfg.OffboardNotice), Previous: t.Status}
		if o.Previous == "" {
			o.Previous = privacy.TenantActive
		}
		t.Status, t.Offboarding = privacy.TenantOffboarding, o
		k.record(&t.AdminOps, o.ID, now)
		return s.operatorEvents(t.ID, now, actor, "tenant.offboarding-requested", map[string]string{
			"offboarding": o.ID, "choice": string(choice), "purgeAfter": o.PurgeAfter.Format(time.RFC3339)}), nil
	})
	if errors.Is(err, errReplay) {
		return s.tenant(ctx, tenantID)
	}
	return t, err
}

// CancelOffboarding returns an offboarding tenant to the status it had
// before (active, or suspended) while its purge has not started
// (ErrPurgeStarted after); its return package, if built, is deleted first,
// so no copy outlives the cancel. Guarded and keyed as OffboardTenant.
func (s *Service) CancelOffboarding(ctx context.Context, tenantID, ifMatch string, actor Actor) (*privacy.Tenant, error) {
	k, err := s.idem(ctx, tenantID, actor, "tenant.offboard-cancel")
	if err != nil {
		return nil, err
	}
	if t, done, err := s.replayed(ctx, tenantID, k); done {
		return t, err
	}
	cur, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if o := cur.Offboarding; o != nil && o.Purge == nil && o.Package != nil && s.d.Blobs != nil && (ifMatch == "" || ifMatch == cur.ETag) {
		if err := s.d.Blobs.Delete(ctx, o.Package.Blob); err != nil {
			return nil, err
		}
	}
	t, err := s.writeTenant(ctx, tenantID, ifMatch, func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		if _, err := k.check(t.AdminOps); err != nil {
			return nil, err
		}
		o := t.Offboarding
		switch {
		case !t.IsOffboarding() || o == nil:
			return nil, errNotOffboarding
		case o.Purge != nil:
			return nil, ErrPurgeStarted
		}
		t.Status, t.Offboarding = o.Previous, nil
		k.record(&t.AdminOps, o.ID, now)
		return s.operatorEvents(t.ID, now, actor, "tenant.offboarding-cancelled", map[string]string{"offboarding": o.ID}), nil
	})
	if errors.Is(err, errReplay) {
		return s.tenant(ctx, tenantID)
	}
	return t, err
}

// replayed answers a keyed tenant change whose key is recorded already
// (before If-Match is checked: the first call changed the ETag): the tenant
// as it is now, or idempotency-key-reused. done is false for a new key.
func (s *Service) replayed(ctx context.Context, tenantID string, k *opKey) (*privacy.Tenant, bool, error) {
	if k == nil {
		return nil, false, nil
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, true, err
	}
	if _, err := k.check(t.AdminOps); errors.Is(err, errReplay) {
		return t, true, nil
	} else if err != nil {
		return nil, true, err
	}
	return nil, false, nil
}

// SealCertificate signs payload (a JSON object) with the certificate key,
// as erasure certificates are (shared/certificate).
func (s *Service) SealCertificate(payload []byte) ([]byte, error) {
	return certificate.Seal(s.pk.certificate(), payload)
}

// OpenCertificate checks a document SealCertificate made and returns its payload.
func (s *Service) OpenCertificate(doc []byte) ([]byte, error) {
	return certificate.Open(doc, map[string]ed25519.PublicKey{s.certificateKeyID(): s.CertificateKey()})
}

// OffboardingLink is the signed link to an offboarding tenant's return
// package, valid until its purge (when the package is deleted); "" without
// a package. The operator hands it to the controller: it needs no token.
func (s *Service) OffboardingLink(t *privacy.Tenant) string {
	o := t.Offboarding
	if o == nil || o.Package == nil {
		return ""
	}
	exp := strconv.FormatInt(o.PurgeAfter.Unix(), 10)
	q := url.Values{"expires": {exp}, "sig": {s.linkSig(t.ID, "offboarding/"+o.ID, exp)}}
	return s.cfg.PublicURL + "/api/operator/tenants/" + t.ID + "/offboarding/package?" + q.Encode()
}

// CheckOffboardingLink reports whether sig signs the link to offboarding
// id's package of the tenant, expiring at expires.
func (s *Service) CheckOffboardingLink(tenantID, id, expires, sig string) bool {
	return sig != "" && hmac.Equal([]byte(sig), []byte(s.linkSig(tenantID, "offboarding/"+id, expires)))
}
