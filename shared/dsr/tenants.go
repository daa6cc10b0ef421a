package dsr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// TenantSettings are the settings a tenant admin may change (PUT or JSON
// Merge Patch on /api/admin/{tenant}/settings) and an operator may set at
// onboarding or change later. One meaning for defaults: a field that is null
// (or left out of a PUT) gets its default — timeZone UTC, piplDays and
// defaultDays 30, erasureGraceDays 30, exportLinkDays 7, no regimes, no
// origins, false — and a read shows the value in force. name has no default.
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
	// ErasureGraceDays: the cancellable wait before a hard delete (null: 30; 0 deletes at once).
	ErasureGraceDays *int `json:"erasureGraceDays"`
	// ExportLinkDays: how long download links work (null: 7).
	ExportLinkDays int `json:"exportLinkDays"`
	// Breach: security contacts, breach webhook, platform scope and the
	// subject-notice policy (null: none). The webhook secret is write-only:
	// a read shows it empty, and a change that leaves it empty keeps the
	// stored one while the webhook URL stays the same.
	Breach *privacy.BreachSettings `json:"breach"`
	// Brand: the privacy center's colours and logo (null: the suite's own look).
	Brand privacy.Brand `json:"brand"`
}

// SettingsOf returns the tenant's settings as TenantSettings shows them.
func SettingsOf(t *privacy.Tenant) TenantSettings {
	return TenantSettings{Name: t.Name, Regimes: t.Regimes, Establishment: t.Establishment, TimeZone: t.TimeZone,
		PortalOrigins: t.PortalOrigins, PIPLDays: t.PIPLDays, LGPDSmallAgent: t.LGPDSmallAgent, DefaultDays: t.DefaultDays, Contact: t.Contact,
		AllowPrivateConnectors: t.AllowPrivateConnectors, ErasureGraceDays: t.ErasureGraceDays, ExportLinkDays: t.ExportLinkDays,
		Breach: breachView(t.Breach), Brand: t.Brand}
}

// breachView copies the breach settings without the webhook secret.
func breachView(b *privacy.BreachSettings) *privacy.BreachSettings {
	if b == nil {
		return nil
	}
	v := *b
	v.Contacts = slices.Clone(b.Contacts)
	v.Services, v.Regions = slices.Clone(b.Services), slices.Clone(b.Regions)
	v.WebhookSecret = ""
	return &v
}

// apply sets t's settings to in, with the defaults for what in leaves unset.
// It returns the JSON names of the settings that changed.
func (in TenantSettings) apply(t *privacy.Tenant) []string {
	before := SettingsOf(t)
	t.Name, t.Regimes, t.Establishment, t.TimeZone = in.Name, in.Regimes, in.Establishment, in.TimeZone
	t.PortalOrigins, t.PIPLDays, t.LGPDSmallAgent = in.PortalOrigins, in.PIPLDays, in.LGPDSmallAgent
	t.DefaultDays, t.Contact = in.DefaultDays, in.Contact
	t.AllowPrivateConnectors, t.ErasureGraceDays, t.ExportLinkDays = in.AllowPrivateConnectors, in.ErasureGraceDays, in.ExportLinkDays
	old := t.Breach
	t.Breach = breachView(in.Breach)
	if t.Breach != nil {
		t.Breach.WebhookSecret = in.Breach.WebhookSecret
		if t.Breach.WebhookSecret == "" && old != nil && old.WebhookURL == t.Breach.WebhookURL {
			t.Breach.WebhookSecret = old.WebhookSecret
		}
		for i, c := range t.Breach.Contacts {
			if l, ok := privacy.NoticeLanguage(c.Language); ok {
				t.Breach.Contacts[i].Language = l // zh-Hans is stored as zh-CN
			}
		}
	}
	t.Brand = in.Brand
	t.ApplyDefaults()
	return changedFields(before, SettingsOf(t))
}

// changedFields names the members whose JSON differs between a and b.
func changedFields(a, b TenantSettings) []string {
	var am, bm map[string]json.RawMessage
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	_ = json.Unmarshal(ab, &am)
	_ = json.Unmarshal(bb, &bm)
	var out []string
	for k, v := range bm {
		if string(am[k]) != string(v) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ErrStaleETag is the error of a change whose If-Match names an older
// version of the tenant (412).
var ErrStaleETag = privacy.Errorf(privacy.KindPreconditionFailed, "etag-mismatch", "the tenant changed since it was read (If-Match is stale); read it again")

// SettingsChange computes a tenant's new settings from its current ones: a
// PUT's body replaces them, a JSON Merge Patch is applied to them. It must be
// a pure function of what it is given: on a concurrent write it runs again on
// the newer version.
type SettingsChange func(current TenantSettings) (TenantSettings, error)

// Configure replaces a tenant's settings, as its admin (guarded by its ETag;
// ifMatch "" skips the check: a stale one is ErrStaleETag). Requests already
// received keep the deadlines they were given. The change is audited in the
// tenant's chain, naming the settings that changed.
func (s *Service) Configure(ctx context.Context, tenantID, ifMatch string, in TenantSettings, actor Actor) (*privacy.Tenant, error) {
	return s.ConfigureWith(ctx, tenantID, ifMatch, func(TenantSettings) (TenantSettings, error) { return in, nil }, actor)
}

// ConfigureWith is Configure with the new settings computed from the current
// ones (a merge patch): without ifMatch a concurrent write re-runs change on
// the newer version instead of failing.
func (s *Service) ConfigureWith(ctx context.Context, tenantID, ifMatch string, change SettingsChange, actor Actor) (*privacy.Tenant, error) {
	return s.writeTenant(ctx, tenantID, ifMatch, func(t *privacy.Tenant, now time.Time) ([]privacy.AuditEvent, error) {
		in, err := change(SettingsOf(t))
		if err != nil {
			return nil, err
		}
		changed := in.apply(t)
		return []privacy.AuditEvent{{ID: newID("aud_"), TenantID: t.ID, At: now, Actor: actor.String(),
			Action: "tenant.configured", Target: "tenant/" + t.ID, Details: map[string]string{"fields": strings.Join(changed, ",")}}}, nil
	})
}

// writeTenant applies change to the tenant and writes it in one ETag-guarded
// write whose audit outbox (Tenant.PendingAudit) carries the events change
// returns; then it appends them and clears the outbox (flushTenant). With
// ifMatch set, a tenant of another version is ErrStaleETag and nothing is
// retried; without, a conflicting write is re-read and re-applied (change must
// be a pure function of the tenant it is given). change's error is returned
// as is and nothing is written.
func (s *Service) writeTenant(ctx context.Context, tenantID, ifMatch string, change func(*privacy.Tenant, time.Time) ([]privacy.AuditEvent, error)) (*privacy.Tenant, error) {
	began := time.Now()
	for attempt := 0; ; attempt++ {
		t, err := s.tenant(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		if ifMatch != "" && ifMatch != t.ETag {
			return nil, ErrStaleETag
		}
		now := s.now()
		evs, err := change(t, now)
		if err != nil {
			return nil, err
		}
		t.UpdatedAt = now
		if err := t.Validate(); err != nil {
			return nil, err
		}
		t.PendingAudit = append(t.PendingAudit, evs...)
		err = s.d.Store.UpdateTenant(ctx, t)
		if errors.Is(err, privacy.ErrConflict) && ifMatch != "" {
			return nil, ErrStaleETag
		}
		if errors.Is(err, privacy.ErrConflict) && retryTenantWrite(ctx, began, attempt) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update tenant: %w", err)
		}
		s.d.Step("tenant-written")
		return s.flushTenantQuietly(ctx, t), nil
	}
}

// tenantWriteBudget bounds the time a tenant write that keeps losing to
// concurrent ones goes on re-reading and re-applying. Every conflict means
// another write committed, so the writers as a whole progress; a count of
// attempts did not bound one writer's wait well: an operator's suspension
// and a few dozen admin changes at once, each followed by its outbox-clearing
// write, exhausted five attempts and then, once the embedded store's writer
// got faster, 32 (TestConcurrentTenantWritesNeverAnswer500).
const tenantWriteBudget = 10 * time.Second

// retryTenantWrite reports whether a tenant write that lost attempt+1 times
// since began goes on, after a pause (spread); false once the budget or ctx
// is spent.
func retryTenantWrite(ctx context.Context, began time.Time, attempt int) bool {
	if ctx.Err() != nil || time.Since(began) > tenantWriteBudget {
		return false
	}
	spread(attempt)
	return true
}

// spread pauses a writer that lost attempt+1 times, a random moment growing
// with attempt up to 50 ms, so that contending writers stop colliding in
// lockstep.
func spread(attempt int) {
	if attempt >= 2 {
		time.Sleep(time.Duration(mathrand.Int64N(int64(min(attempt, 50))*int64(time.Millisecond) + 1)))
	}
}

// FlushTenant carries out the tenant document's audit outbox: it appends each
// pending event to its chain (the tenant's, or the operator's), idempotently
// by event id, then removes the appended ones from the stored tenant (one
// ETag-guarded write, re-read on a conflict). Safe to run twice or
// concurrently; a crash at any point leaves the rest for the next write or
// the hourly watch. It returns the tenant as stored afterwards.
func (s *Service) FlushTenant(ctx context.Context, t *privacy.Tenant) (*privacy.Tenant, error) {
	if len(t.PendingAudit) == 0 {
		return t, nil
	}
	var done []string
	for _, e := range t.PendingAudit {
		if err := s.d.Store.AppendAudit(ctx, &e); err != nil {
			return t, fmt.Errorf("flush tenant %s: append audit: %w", t.ID, err)
		}
		s.d.Step("tenant-audit-appended")
		done = append(done, e.TenantID+"/"+e.ID)
	}
	began := time.Now()
	for attempt := 0; ; attempt++ {
		t.PendingAudit = slices.DeleteFunc(t.PendingAudit, func(e privacy.AuditEvent) bool {
			return slices.Contains(done, e.TenantID+"/"+e.ID)
		})
		if len(t.PendingAudit) == 0 {
			t.PendingAudit = nil
		}
		err := s.d.Store.UpdateTenant(ctx, t)
		if err == nil {
			s.d.Step("tenant-outbox-cleared")
			return t, nil
		}
		if !errors.Is(err, privacy.ErrConflict) || !retryTenantWrite(ctx, began, attempt) {
			return t, fmt.Errorf("flush tenant %s: clear outbox: %w", t.ID, err)
		}
		fresh, err := s.d.Store.GetTenant(ctx, t.ID)
		if err != nil {
			return t, fmt.Errorf("flush tenant %s: reload: %w", t.ID, err)
		}
		t = fresh
	}
}

// flushTenantQuietly flushes after a committed tenant write: the change is
// durable whatever happens here, so a failure is logged and left to the next
// write or the watch. It returns the tenant as last written.
func (s *Service) flushTenantQuietly(ctx context.Context, t *privacy.Tenant) *privacy.Tenant {
	out, err := s.FlushTenant(ctx, t)
	if err != nil {
		s.d.Logger.WarnContext(ctx, "tenant audit outbox deferred to the deadline watch", "tenant_id", t.ID, "error", err.Error())
	}
	return out
}

// RedriveTenant finishes a tenant's audit outbox left behind by a crash: one
// whose oldest event is older than the outbox lease (younger ones belong to a
// write still running). It reports whether it flushed.
func (s *Service) RedriveTenant(ctx context.Context, t *privacy.Tenant) (bool, error) {
	if len(t.PendingAudit) == 0 || !t.PendingAudit[0].At.Before(s.now().Add(-s.cfg.OutboxLease)) {
		return false, nil
	}
	_, err := s.FlushTenant(ctx, t)
	return err == nil, err
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
	t.ApplyDefaults()
	if err := t.Validate(); err != nil {
		return false, err
	}
	t.PendingAudit = []privacy.AuditEvent{{ID: "aud_tenant_created", TenantID: t.ID, At: t.CreatedAt, Actor: "system",
		Action: "tenant.created", Target: "tenant/" + t.ID}}
	if err := s.d.Store.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, privacy.ErrConflict) {
			return false, nil
		}
		return false, fmt.Errorf("create tenant: %w", err)
	}
	if _, err := s.FlushTenant(ctx, t); err != nil {
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
	return s.chainPage(ctx, t.ID, after, limit)
}

// chainPage returns up to limit events of the chain in partition after seq.
func (s *Service) chainPage(ctx context.Context, partition string, after int64, limit int) (AuditPage, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	evs, err := s.d.Store.ListAudit(ctx, partition, after, limit)
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
	return s.verifyChain(ctx, t.ID)
}

// verifyChain walks the whole chain in partition and reports the first break.
func (s *Service) verifyChain(ctx context.Context, partition string) (ChainReport, error) {
	var seq int64
	var head string
	for {
		evs, err := s.d.Store.ListAudit(ctx, partition, seq, 500)
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

// VerifyAuditChain verifies the chain of a tenant or, with
// privacy.OperatorTenant, the operator's.
func (s *Service) VerifyAuditChain(ctx context.Context, partition string) (ChainReport, error) {
	if partition == privacy.OperatorTenant {
		return s.VerifyOperatorAudit(ctx)
	}
	return s.VerifyAudit(ctx, partition)
}
