package dsr

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
)

// changeTenant applies change to the tenant document (one ETag-guarded write,
// re-read and re-applied on a conflict) and audits it in the tenant's chain,
// through the document's audit outbox (see writeTenant).
func (s *Service) changeTenant(ctx context.Context, tenantID string, actor Actor, action, target string, change func(*privacy.Tenant, time.Time) error) (*privacy.Tenant, error) {
	return s.writeTenant(ctx, tenantID, "", func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		if err := change(t, now); err != nil {
			return nil, err
		}
		return []privacy.AuditEvent{{ID: newID("aud_"), TenantID: t.ID, At: now, Actor: actor.String(), Action: action, Target: target}}, nil
	})
}

// newSecret returns a fresh 256-bit signing secret.
func newSecret(now time.Time) privacy.ServiceSecret {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return privacy.ServiceSecret{ID: shortID("key_", 6), Value: base64.StdEncoding.EncodeToString(b[:]), CreatedAt: now}
}

// PutService creates or replaces one of the tenant's services. A new webhook
// service gets a signing secret, returned once in the result, and signing
// version 2 unless the input asks for 1; a replaced one keeps its secrets
// (rotate them with RotateSecret) and its signing version unless the input
// sets one (moving a legacy service to 2 is how it migrates).
func (s *Service) PutService(ctx context.Context, tenantID string, in privacy.Service, actor Actor) (*privacy.Service, bool, error) {
	in.Secrets = nil
	if err := in.Validate(); err != nil {
		return nil, false, err
	}
	var out privacy.Service
	created := false
	_, err := s.changeTenant(ctx, tenantID, actor, "service.configured", "service/"+in.ID, func(t *privacy.Tenant, now time.Time) error {
		svc := in
		svc.UpdatedAt = now
		if old := t.Service(in.ID); old != nil {
			if old.Kind != svc.Kind {
				if err := serviceInUse(t, in.ID); err != nil {
					return err
				}
			}
			svc.CreatedAt, svc.Secrets = old.CreatedAt, old.Secrets
			if svc.SigningVersion == 0 && svc.Kind == old.Kind {
				svc.SigningVersion = old.SigningVersion
			}
			*old = svc
		} else {
			if len(t.Services) >= 200 {
				return privacy.Errorf(privacy.KindUnprocessable, "too-many-services", "a tenant has at most 200 services")
			}
			svc.CreatedAt, created = now, true
			if svc.Kind == privacy.KindWebhook && svc.SigningVersion == 0 {
				svc.SigningVersion = 2 // separated keys: the default of every new service
			}
			t.Services = append(t.Services, svc)
		}
		p := t.Service(in.ID)
		if p.Kind == privacy.KindWebhook || p.Kind == privacy.KindServiceBus {
			if len(p.Secrets) == 0 {
				p.Secrets = []privacy.ServiceSecret{newSecret(now)}
			}
		} else {
			p.Secrets = nil
		}
		out = *p
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return &out, created, nil
}

// DeleteService removes a service; requests already fanned out keep their
// tasks, which fail with a clear reason if they still had to run.
func (s *Service) DeleteService(ctx context.Context, tenantID, id string, actor Actor) error {
	k, err := s.idem(ctx, tenantID, actor, "service.deleted", id)
	if err != nil {
		return err
	}
	_, err = s.changeTenant(ctx, tenantID, actor, "service.deleted", "service/"+id, func(t *privacy.Tenant, now time.Time) error {
		if _, err := k.check(t.AdminOps); err != nil {
			return err
		}
		i := slices.IndexFunc(t.Services, func(s privacy.Service) bool { return s.ID == id })
		if i < 0 {
			return privacy.Errorf(privacy.KindNotFound, "unknown-service", "no such service")
		}
		if err := serviceInUse(t, id); err != nil {
			return err
		}
		t.Services = slices.Delete(t.Services, i, i+1)
		k.record(&t.AdminOps, id, now)
		return nil
	})
	if errors.Is(err, errReplay) {
		return nil // deleted with this key: the first answer
	}
	return err
}

// RotateSecret adds a new signing secret to a service and keeps the newest
// previous one, so two are active while the service rolls over; an older one
// is retired. It returns the service with the new secret.
func (s *Service) RotateSecret(ctx context.Context, tenantID, id string, actor Actor) (*privacy.Service, error) {
	k, err := s.idem(ctx, tenantID, actor, "service.secret-rotated", id)
	if err != nil {
		return nil, err
	}
	var out privacy.Service
	_, err = s.changeTenant(ctx, tenantID, actor, "service.secret-rotated", "service/"+id, func(t *privacy.Tenant, now time.Time) error {
		if _, err := k.check(t.AdminOps); err != nil {
			return err
		}
		svc := t.Service(id)
		if svc == nil {
			return privacy.Errorf(privacy.KindNotFound, "unknown-service", "no such service")
		}
		if svc.Kind != privacy.KindWebhook && svc.Kind != privacy.KindServiceBus {
			return privacy.Errorf(privacy.KindConflict, "no-secret", "only webhook and servicebus services have signing secrets")
		}
		keep := svc.Secrets
		if len(keep) > 1 {
			keep = keep[len(keep)-1:]
		}
		svc.Secrets = append(slices.Clone(keep), newSecret(now))
		svc.UpdatedAt = now
		out = *svc
		k.record(&t.AdminOps, svc.Secrets[len(svc.Secrets)-1].ID, now)
		return nil
	})
	if errors.Is(err, errReplay) {
		// Rotated with this key already: the service as it is now (its
		// newest secret is the one that rotation made, unless rotated since).
		t, err := s.tenant(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		if svc := t.Service(id); svc != nil {
			return svc, nil
		}
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-service", "no such service")
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// HoldInput places a legal hold.
type HoldInput struct {
	Scope   privacy.HoldScope `json:"scope"`
	Email   string            `json:"email,omitempty"`   // subject scope: hashed, never stored
	Service string            `json:"service,omitempty"` // service scope
	// DataCategory is what a data-category hold keeps: a retention category.
	DataCategory string `json:"dataCategory,omitempty"`
	Reason       string `json:"reason"`
	// Category is the ground of the hold the subject is told (GDPR Art.
	// 17(3)); Reason stays internal.
	Category privacy.HoldCategory `json:"category"`
}

// PlaceHold places a legal hold. A subject hold names the subject by email;
// only its keyed hash is kept.
func (s *Service) PlaceHold(ctx context.Context, tenantID string, in HoldInput, actor Actor) (*privacy.Hold, error) {
	reason, err := checkReason(in.Reason, true)
	if err != nil {
		return nil, err
	}
	if !in.Category.Valid() {
		return nil, privacy.Errorf(privacy.KindInvalid, "invalid-hold-category",
			"category must be one of freedom-of-expression, legal-obligation, public-interest, public-health, archiving-research, legal-claims (GDPR Art. 17(3))")
	}
	h := privacy.Hold{ID: shortID("hold_", 8), Scope: in.Scope, Reason: reason, Category: in.Category, PlacedBy: actor.String()}
	switch in.Scope {
	case privacy.HoldTenant:
	case privacy.HoldSubject:
		email := strings.TrimSpace(in.Email)
		if email == "" || len(email) > 254 || !strings.Contains(email, "@") {
			return nil, privacy.Errorf(privacy.KindInvalid, "invalid-email", "a subject hold needs the subject's email")
		}
		h.SubjectHash = s.hasher.Hash(tenantID, email)
		if h.SealedEmail, err = s.sealHoldEmail(tenantID, h.ID, email); err != nil {
			return nil, err
		}
	case privacy.HoldService:
		if !privacy.ValidServiceID(in.Service) {
			return nil, privacy.Errorf(privacy.KindInvalid, "invalid-service", "a service hold needs a service id")
		}
		h.Service = in.Service
	case privacy.HoldDataCategory:
		if !slices.Contains(retention.Categories, in.DataCategory) {
			return nil, privacy.Errorf(privacy.KindInvalid, "invalid-data-category", "a data-category hold needs a retention category in dataCategory")
		}
		h.DataCategory = in.DataCategory
	default:
		return nil, privacy.Errorf(privacy.KindInvalid, "invalid-scope", "scope must be tenant, subject, service or data-category")
	}
	k, err := s.idem(ctx, tenantID, actor, "hold.placed", string(h.Scope), h.SubjectHash, h.Service, reason, string(h.Category), h.DataCategory)
	if err != nil {
		return nil, err
	}
	var first *privacy.IdempotentOp
	_, err = s.changeTenant(ctx, tenantID, actor, "hold.placed", "hold/"+h.ID, func(t *privacy.Tenant, now time.Time) error {
		if rec, err := k.check(t.AdminOps); err != nil {
			first = rec
			return err
		}
		if h.Scope == privacy.HoldService && t.Service(h.Service) == nil {
			return privacy.Errorf(privacy.KindNotFound, "unknown-service", "no such service")
		}
		if len(t.Holds) >= 1000 {
			return privacy.Errorf(privacy.KindUnprocessable, "too-many-holds", "a tenant has at most 1000 holds")
		}
		h.PlacedAt = now
		t.Holds = append(t.Holds, h)
		k.record(&t.AdminOps, h.ID, now)
		return nil
	})
	if errors.Is(err, errReplay) {
		return s.replayHold(ctx, tenantID, first.Ref)
	}
	if err != nil {
		return nil, err
	}
	pub := h.Public()
	return &pub, nil
}

// replayHold answers a keyed hold change that was already made: the hold as
// it is stored now.
func (s *Service) replayHold(ctx context.Context, tenantID, id string) (*privacy.Hold, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	for i := range t.Holds {
		if t.Holds[i].ID == id {
			pub := t.Holds[i].Public()
			return &pub, nil
		}
	}
	return nil, privacy.Errorf(privacy.KindNotFound, "unknown-hold", "no such hold")
}

// ReleaseHold releases a legal hold and starts again the erasures it
// deferred that nothing else holds (ResumeReleased). If that is cut short,
// the deadline watch finishes it.
func (s *Service) ReleaseHold(ctx context.Context, tenantID, id string, actor Actor) (*privacy.Hold, error) {
	k, err := s.idem(ctx, tenantID, actor, "hold.released", id)
	if err != nil {
		return nil, err
	}
	var out privacy.Hold
	t, err := s.changeTenant(ctx, tenantID, actor, "hold.released", "hold/"+id, func(t *privacy.Tenant, now time.Time) error {
		if _, err := k.check(t.AdminOps); err != nil {
			return err
		}
		for i := range t.Holds {
			if t.Holds[i].ID == id {
				if !t.Holds[i].ReleasedAt.IsZero() {
					return privacy.Errorf(privacy.KindConflict, "hold-released", "the hold was already released")
				}
				t.Holds[i].ReleasedAt = now
				t.Holds[i].SealedEmail = "" // needed only while it holds
				out = t.Holds[i]
				k.record(&t.AdminOps, id, now)
				return nil
			}
		}
		return privacy.Errorf(privacy.KindNotFound, "unknown-hold", "no such hold")
	})
	if errors.Is(err, errReplay) {
		return s.replayHold(ctx, tenantID, id)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.resumeReleased(ctx, t, actor); err != nil {
		s.d.Logger.WarnContext(ctx, "resuming erasures after a hold release deferred to the deadline watch",
			"tenant_id", tenantID, "hold_id", id, "error", err.Error())
	}
	return &out, nil
}

// Tombstone is one entry of the tombstone ledger: a service erased a subject,
// known only by the keyed hash.
type Tombstone struct {
	SubjectHash string `json:"subjectHash"`
	// Service is the service whose data went; "" for privops's own records
	// (closed requests, export packages) purged by a retention sweep.
	Service      string `json:"service"`
	RequestID    string `json:"requestId,omitempty"` // an erasure's request
	Verification string `json:"verification"`        // "retention-purge" for a sweep's
	// Run and Policy name the retention run and policy that purged the
	// subject's data (a sweep's tombstone), Category its retention category.
	Run      string    `json:"run,omitempty"`
	Policy   string    `json:"policy,omitempty"`
	Category string    `json:"category,omitempty"`
	At       time.Time `json:"at"`
	Seq      int64     `json:"seq"`
}

// Tombstones pages through the tenant's erasure ledger (from the audit chain:
// erasures and retention sweeps), optionally for one service: a service
// restored from a backup replays these deletions by hashing its subjects with
// the tenant's subject key.
func (s *Service) Tombstones(ctx context.Context, tenantID, service string, after int64, limit int) ([]Tombstone, int64, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	out := []Tombstone{}
	next := after
	for len(out) < limit {
		evs, err := s.d.Store.ListAudit(ctx, t.ID, next, 500)
		if err != nil {
			return nil, 0, fmt.Errorf("list audit: %w", err)
		}
		if len(evs) == 0 {
			return out, 0, nil
		}
		for _, e := range evs {
			next = e.Seq
			if e.Action != ActionTombstone && e.Action != retention.ActionSubjectsPurged || (service != "" && e.Details["service"] != service) {
				continue
			}
			if e.Action == retention.ActionSubjectsPurged {
				// A sweep's page: one entry per subject it lists (a page
				// of the ledger may hold up to a sweep page more than
				// limit, since it resumes after whole events).
				for _, h := range strings.Fields(e.Details["subjects"]) {
					out = append(out, Tombstone{SubjectHash: h, Service: e.Details["service"], Verification: "retention-purge",
						Run: e.Details["run"], Policy: e.Details["policy"], Category: e.Details["category"], At: e.At, Seq: e.Seq})
				}
			} else {
				out = append(out, Tombstone{SubjectHash: e.SubjectHash, Service: e.Details["service"],
					RequestID: strings.TrimPrefix(e.Target, "request/"), Verification: e.Details["verification"], At: e.At, Seq: e.Seq})
			}
			if len(out) >= limit {
				break
			}
		}
	}
	return out, next, nil
}
