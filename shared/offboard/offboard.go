// Package offboard carries out the end of a tenant's contract (GDPR Art.
// 28(3)(g): at the end of the processing services, return or delete all
// personal data at the controller's choice, and delete existing copies).
// It has no trigger of its own: the hourly deadline watch calls Run for every
// tenant in TenantOffboarding (shared/dsr records the operator's request).
// Run builds the return package when the controller chose return-then-delete,
// waits out the notice period, refuses to start (or go on) while an active
// legal hold covers the tenant, then purges every blob, queue body, item,
// inbound record, breach notice, data-subject list, ledger row and campaign
// (stopped first), request and audit event of the tenant page by page,
// checkpointing on the tenant document, issues a signed offboarding
// certificate into the operator's audit chain, and deletes the tenant
// document last. Each step is idempotent: a crash anywhere is finished by the
// next run. Logs carry counts, never contents.
package offboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Store is what offboarding needs of the store port.
type Store interface {
	GetTenant(ctx context.Context, id string) (*privacy.Tenant, error)
	UpdateTenant(ctx context.Context, t *privacy.Tenant) error
	ListRequests(ctx context.Context, tenantID string, f privacy.RequestFilter) (privacy.RequestPage, error)
	AppendAudit(ctx context.Context, e *privacy.AuditEvent) error
	ListAudit(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]privacy.AuditEvent, error)
}

// Inbound lists a tenant's inbound ledger for the return package.
type Inbound interface {
	ListInbound(ctx context.Context, tenantID string, f privacy.InboundFilter) (privacy.InboundPage, error)
}

// Data deletes a tenant's stored data kind by kind (privacy.DataKindRequests,
// DataInbound, DataItems, DataAudit). Every store adapter implements it;
// storetest.RunTenantData is its conformance suite.
type Data interface {
	// CountTenantData returns how many documents of kind the tenant holds.
	CountTenantData(ctx context.Context, tenantID, kind string) (int, error)
	// PurgeTenantData deletes up to limit of the tenant's documents of kind
	// and returns how many it deleted: 0 when none is left. Idempotent; it
	// never touches another tenant.
	PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error)
	// DeleteTenant deletes the tenant document. Deleting an absent tenant
	// is not an error.
	DeleteTenant(ctx context.Context, tenantID string) error
}

// Messages deletes the tenant's messages from the built-in queue (live and
// dead-lettered). Optional: on Service Bus, queue bodies carry ids only and a
// message of a deleted tenant is dropped as unknown when it is consumed.
type Messages interface {
	CountTenantMessages(ctx context.Context, tenantID string) (int, error)
	PurgeTenantMessages(ctx context.Context, tenantID string, limit int) (int, error)
}

// Subjects deletes a tenant's data-subject breach records kind by kind
// (privacy.DataKindBreachRecipients, DataKindBreachLedger,
// DataKindBreachCampaigns): the store of shared/breachsend.
// storetest.RunTenantSubjects is its conformance suite.
type Subjects interface {
	CountTenantData(ctx context.Context, tenantID, kind string) (int, error)
	PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error)
}

// Campaigns stops a tenant's data-subject campaigns before their records
// are purged (breachsend.Service.StopTenant): it returns how many deliveries
// are still in flight; the purge waits until none is.
type Campaigns interface {
	StopTenant(ctx context.Context, tenantID string) (int, error)
}

// Kinds the purge goes through, in order: what refers to blobs first, the
// data-subject breach records once the campaigns are stopped (the lists,
// then the ledger, then the campaigns), the tenant's breach notices, the
// audit chain last but one, and the tenant document after the certificate.
const (
	kindBlobs    = "blobs"
	kindMessages = "messages"
)

var purgeOrder = []string{kindBlobs, kindMessages, privacy.DataKindItems, privacy.DataKindInbound,
	privacy.DataKindBreachRecipients, privacy.DataKindBreachLedger, privacy.DataKindBreachCampaigns, privacy.DataKindBreachNotices,
	privacy.DataKindRequests, privacy.DataKindAudit}

// Config holds the purge's limits.
type Config struct {
	PageSize int           // documents deleted per page (500)
	Budget   time.Duration // one Run's time, checked between pages (45s)
}

// Deps are the collaborators.
type Deps struct {
	Store    Store
	Inbound  Inbound
	Data     Data
	Messages Messages // nil: the queue keeps nothing of tenants (Service Bus)
	// Subjects and Campaigns are the data-subject fan-out's store and
	// service; nil where there is none (STORE_BACKEND=cosmos): its kinds
	// then count 0.
	Subjects  Subjects
	Campaigns Campaigns
	// Notices writes the tenant's breach notices, one emit each, into the
	// return package (nil: none).
	Notices func(ctx context.Context, tenantID string, emit func(any) error) error
	Blobs   privacy.Blobs // nil: none (a return package then cannot be built)
	// Flush carries out the tenant document's audit outbox (dsr.Service.FlushTenant).
	Flush func(ctx context.Context, t *privacy.Tenant) (*privacy.Tenant, error)
	// Seal and Open sign and check the certificate (the Ed25519 key of the
	// erasure certificates).
	Seal func(payload []byte) ([]byte, error)
	Open func(doc []byte) ([]byte, error)
	// Link signs the download link of a tenant's return package, CheckLink
	// checks one (dsr.Service.OffboardingLink, CheckOffboardingLink).
	Link      func(t *privacy.Tenant) string
	CheckLink func(tenantID, offboardingID, expires, sig string) bool
	// NewID returns a random audit event id.
	NewID  func() string
	Now    func() time.Time
	Step   func(name string)
	Logger *slog.Logger
}

// Offboarder carries out offboardings.
type Offboarder struct {
	cfg Config
	d   Deps
}

// New returns an Offboarder.
func New(cfg Config, d Deps) (*Offboarder, error) {
	if d.Store == nil || d.Data == nil || d.Flush == nil || d.Seal == nil || d.Open == nil || d.Now == nil || d.NewID == nil {
		return nil, errors.New("offboard: store, data, flush, seal, open, ids and clock are required")
	}
	if d.Blobs == nil {
		d.Blobs = noBlobs{}
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 45 * time.Second
	}
	if d.Step == nil {
		d.Step = func(string) {}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Offboarder{cfg: cfg, d: d}, nil
}

// noBlobs stands in for a missing blob store (tests that wire no blobs): no
// blob exists, and none can be stored, so a return package fails to build
// and its offboarding waits.
type noBlobs struct{}

func (noBlobs) Put(context.Context, string, io.Reader) (int64, error) {
	return 0, errors.New("no blob store is configured")
}
func (noBlobs) Open(context.Context, string) (io.ReadCloser, int64, error) {
	return nil, 0, privacy.ErrNotFound
}
func (noBlobs) Delete(context.Context, string) error { return nil }

// Outcome is where a Run left an offboarding.
type Outcome string

// Outcomes of Run.
const (
	Waiting        Outcome = "waiting"    // in its notice period (package built if chosen)
	Blocked        Outcome = "blocked"    // due, but an active legal hold keeps it from purging
	Stopping       Outcome = "stopping"   // due; the tenant's breach campaigns are stopped, deliveries in flight still end
	Continue       Outcome = "continue"   // purging; the budget ran out, the next run goes on
	Offboarded     Outcome = "offboarded" // purged, certified, tenant document deleted
	NotOffboarding Outcome = "not-offboarding"
)

// now is the run's time in UTC, truncated to the microsecond.
func (o *Offboarder) now() time.Time { return o.d.Now().UTC().Truncate(time.Microsecond) }

// RunTenant reads the tenant as stored and runs its offboarding; a tenant
// that is gone (offboarded meanwhile) is NotOffboarding.
func (o *Offboarder) RunTenant(ctx context.Context, tenantID string) (Outcome, error) {
	t, err := o.d.Store.GetTenant(ctx, tenantID)
	if errors.Is(err, privacy.ErrNotFound) {
		return NotOffboarding, nil
	}
	if err != nil {
		return "", fmt.Errorf("get tenant: %w", err)
	}
	return o.Run(ctx, t)
}

// Run advances tenant t's offboarding as far as it can within the budget.
// Safe to call at any time, twice, or after a crash at any point.
func (o *Offboarder) Run(ctx context.Context, t *privacy.Tenant) (Outcome, error) {
	if !t.IsOffboarding() || t.Offboarding == nil {
		return NotOffboarding, nil
	}
	start := o.d.Now()
	log := o.d.Logger.With("tenant_id", t.ID, "offboarding", t.Offboarding.ID)
	t, err := o.d.Flush(ctx, t)
	if err != nil {
		return "", fmt.Errorf("flush tenant outbox: %w", err)
	}
	ob := t.Offboarding
	if ob.Choice == privacy.OffboardReturnThenDelete && ob.Package == nil && ob.Purge == nil {
		if t, err = o.buildPackage(ctx, t); err != nil {
			return "", err
		}
		log.InfoContext(ctx, "offboarding return package stored", "bytes", t.Offboarding.Package.Bytes, "files", t.Offboarding.Package.Files)
	}
	now := o.now()
	if now.Before(t.Offboarding.PurgeAfter) {
		return Waiting, nil
	}
	if holds := t.ActiveHolds(); len(holds) > 0 {
		if err := o.block(ctx, t, holds, now); err != nil {
			return "", err
		}
		log.WarnContext(ctx, "offboarding purge held back by legal holds", "holds", len(holds))
		return Blocked, nil
	}
	if p := t.Offboarding.Purge; p == nil || !slices.Contains(p.Done, kindMessages) {
		// A running data-subject campaign is stopped before anything is
		// counted, and the purge waits for its deliveries in flight: they
		// may still record ledger rows and enqueue retries.
		if busy, err := o.stopCampaigns(ctx, t); err != nil {
			return "", err
		} else if busy > 0 {
			log.InfoContext(ctx, "offboarding purge waits for breach deliveries in flight", "deliveries", busy)
			return Stopping, nil
		}
	}
	if t.Offboarding.Purge == nil {
		if t, err = o.startPurge(ctx, t, now); err != nil {
			return "", err
		}
	} else if t.Offboarding.Blocked != nil {
		// A hold placed during the purge paused it; it is released.
		t.Offboarding.Blocked = nil
		if t, err = o.write(ctx, t, "offboard-unblocked"); err != nil {
			return "", err
		}
	}
	done, err := o.purge(ctx, t, start)
	if err != nil || !done {
		return Continue, err
	}
	if err := o.certify(ctx, t); err != nil {
		return "", err
	}
	if err := o.d.Data.DeleteTenant(ctx, t.ID); err != nil {
		return "", fmt.Errorf("delete tenant document: %w", err)
	}
	o.d.Step("offboard-tenant-deleted")
	log.InfoContext(ctx, "tenant offboarded")
	return Offboarded, nil
}

// write stores t with evs in its audit outbox (ETag-guarded; a conflict is
// returned: the next run starts again from what is stored), then flushes.
func (o *Offboarder) write(ctx context.Context, t *privacy.Tenant, step string, evs ...privacy.AuditEvent) (*privacy.Tenant, error) {
	t.UpdatedAt = o.now()
	t.PendingAudit = append(t.PendingAudit, evs...)
	if err := o.d.Store.UpdateTenant(ctx, t); err != nil {
		return nil, fmt.Errorf("record offboarding %s: %w", step, err)
	}
	o.d.Step(step)
	if len(evs) == 0 {
		return t, nil
	}
	return o.d.Flush(ctx, t)
}

// events returns an offboarding step's audit event for the operator's chain
// and, unless the tenant's chain is purged already, its copy for the tenant's.
func (o *Offboarder) events(t *privacy.Tenant, action string, details map[string]string) []privacy.AuditEvent {
	e := privacy.AuditEvent{ID: o.d.NewID(), TenantID: privacy.OperatorTenant, At: o.now(), Actor: "system:offboard",
		Action: action, Target: "tenant/" + t.ID, Details: details}
	if p := t.Offboarding.Purge; p != nil && slices.Contains(p.Done, privacy.DataKindAudit) {
		return []privacy.AuditEvent{e}
	}
	c := e
	c.TenantID = t.ID
	return []privacy.AuditEvent{e, c}
}
