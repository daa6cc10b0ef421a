// Package breachsend notifies the data subjects a breach touched (issue 13,
// items 6 and 7): a tenant admin uploads the recipient list of an incident
// (streamed, validated, deduplicated; stored as personal data with an expiry),
// starts the campaign once the tenant's notice is approved, and the breachsend
// queue function (%BREACH_SEND_QUEUE%) delivers it in batches that carry ids
// and ranges only. A per-recipient ledger, keyed by incident, tenant,
// recipient, channel and notice version, advances to sent only after the mail
// server accepted the message, so a crash and a redelivery never send twice
// (GDPR Art. 34(1): without undue delay; Art. 34(2): clear and plain language).
// Where individual notice is disproportionate, or fails, a public notice page
// is published instead (Art. 34(3)(c)). Recipient lists are purged after the
// campaign plus a keeping period (Art. 5(1)(e)).
//
// Breach mail runs in its own lane: its own queue, its own workers and its own
// mailer (for SMTP its own pooled connections under their own limit), so the
// portal's verification codes and the DSR notices are never starved.
package breachsend

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Notice is the subject notice of one incident for one tenant, in the
// languages it is written in ("en", "zh-CN"). The breach service owns it; the
// composition root adapts that service to NoticeSource.
type Notice struct {
	IncidentID string
	Version    int
	Approved   bool
	ApprovedAt time.Time
	Subject    map[string]string // by language: "en", "zh-CN"
	Text       map[string]string // by language
}

// NoticeSource gives the current subject notice of an incident for a tenant.
// Errors: privacy.ErrNotFound (wrapped) if the tenant has no such incident.
type NoticeSource interface {
	SubjectNotice(ctx context.Context, tenantID, incidentID string) (Notice, error)
}

// Languages a notice and a recipient may have. The first is the default for a
// recipient without one.
var Languages = []string{"en", "zh-CN"}

// ChannelEmail is the only channel so far; the ledger keys by channel so that
// others (SMS, letter) can follow without a new key.
const ChannelEmail = "email"

// Campaign states.
const (
	StateReady   = "ready"   // a list is uploaded; nothing sent
	StateSending = "sending" // started: batches are enqueued and delivered
	StateDone    = "done"    // every recipient is sent, failed or bounced
	// StateStopped: the tenant's offboarding purge stopped it (StopTenant);
	// nothing more is sent, and it cannot be started again.
	StateStopped = "stopped"
)

// Ledger states of one recipient. Absent from the ledger means pending.
const (
	StatusPending = "pending" // not yet tried (no ledger row)
	StatusRetry   = "retry"   // a transient failure; tried again after NextAt
	StatusSent    = "sent"    // the mail server accepted the message
	StatusFailed  = "failed"  // transient failures until the attempts ran out
	StatusBounced = "bounced" // the mail server refused the recipient (5xx)
)

// Terminal reports whether a ledger status never changes again.
func Terminal(status string) bool {
	return status == StatusSent || status == StatusFailed || status == StatusBounced
}

// Campaign is the subject notification of one incident for one tenant: one
// document per (tenant, incident), guarded by its ETag. The counters are kept
// by the store beside the document, in the same write as each ledger change.
type Campaign struct {
	TenantID   string `json:"tenantId"`
	IncidentID string `json:"incidentId"`
	State      string `json:"state"`
	// ListID names the current recipient list; its recipients have ids 1..Total.
	ListID     string    `json:"listId,omitempty"`
	Total      int64     `json:"total"`
	UploadedAt time.Time `json:"uploadedAt,omitzero"`
	// Duplicates is how many lines of the upload repeated an address.
	Duplicates int64 `json:"duplicates"`

	NoticeVersion int               `json:"noticeVersion,omitempty"`
	Subject       map[string]string `json:"subject,omitempty"` // the approved notice, as started
	Text          map[string]string `json:"text,omitempty"`
	StartedAt     time.Time         `json:"startedAt,omitzero"`
	StartedBy     string            `json:"startedBy,omitempty"`
	BatchSize     int               `json:"batchSize,omitempty"`
	Batches       int64             `json:"batches,omitempty"`
	Enqueued      int64             `json:"enqueued,omitempty"` // batches enqueued so far
	EndedAt       time.Time         `json:"endedAt,omitzero"`
	// StoppedBy says what stopped it (state stopped): "tenant-offboarding".
	StoppedBy string `json:"stoppedBy,omitempty"`
	// ExpiresAt is when the recipient list and the ledger are purged: the
	// upload (not started) or the campaign's end, plus the keeping period.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	PurgedAt  time.Time `json:"purgedAt,omitzero"`
	// StrippedAt is when a retention sweep (a breach-records policy) deleted
	// the campaign's recipients and who started it; the counts stay.
	StrippedAt time.Time `json:"strippedAt,omitzero"`

	// Public notice (GDPR Art. 34(3)(c)).
	Public       bool      `json:"public"`
	PublicReason string    `json:"publicReason,omitempty"` // "tenant-choice" or "individual-notice-failed"
	PublishedAt  time.Time `json:"publishedAt,omitzero"`

	// Counters, maintained by the store (never written through PutCampaign).
	Sent    int64 `json:"-"`
	Failed  int64 `json:"-"`
	Bounced int64 `json:"-"`

	ETag string `json:"-"`
}

// stagedKeep is how long an upload may run before the watch purges its rows.
const stagedKeep = 24 * time.Hour

// NextPurge is when the watch must purge c's list: its expiry, unless it is
// purged or the campaign is sending; zero when nothing is due. The store
// indexes it.
func (c *Campaign) NextPurge() time.Time {
	if c.ListID != "" && c.PurgedAt.IsZero() && !c.ExpiresAt.IsZero() {
		return c.ExpiresAt
	}
	return time.Time{}
}

// Due is something the watch must purge: a campaign's list once it expired
// (Staged false), or a staged list, i.e. an upload that never became, or no
// longer is, the campaign's list.
type Due struct {
	TenantID, IncidentID string
	ListID               string // the staged list; "" for the campaign's own
	Staged               bool
}

// Progress is the campaign's counts at one moment.
type Progress struct {
	Total   int64 `json:"total"`
	Sent    int64 `json:"sent"`
	Failed  int64 `json:"failed"` // failed and bounced
	Bounced int64 `json:"bounced"`
	Pending int64 `json:"pending"`
}

// Progress returns c's counts; pending is what is neither sent nor failed.
func (c *Campaign) Progress() Progress {
	p := Progress{Total: c.Total, Sent: c.Sent, Failed: c.Failed + c.Bounced, Bounced: c.Bounced}
	p.Pending = max(0, p.Total-p.Sent-p.Failed)
	return p
}

// Recipient is one line of an uploaded list: personal data.
type Recipient struct {
	Seq        int64  // 1..Total within its list: batches carry ranges of these
	Key        string // keyed hash of the normalised address: dedupe and ledger key
	Email      string // normalised
	Language   string
	Name       string
	Identifier string
}

// Delivery is a recipient of a batch with its ledger state for the
// campaign's channel and notice version.
type Delivery struct {
	Recipient
	Status   string
	Attempts int
	NextAt   time.Time
}

// LedgerEntry is one ledger change: the row of (tenant, incident, recipient
// key, channel, version).
type LedgerEntry struct {
	TenantID, IncidentID string
	RecipientKey         string
	Channel              string
	Version              int
	Status               string
	Attempts             int
	NextAt               time.Time // StatusRetry only
	At                   time.Time
	Code                 string // why it failed or bounced: never the server's text
	MailID               string
}

// Store is the campaign and ledger port. Every method is scoped to one tenant
// except Expired (the watch). Errors: privacy.ErrNotFound, ErrConflict,
// ErrUnavailable (wrapped), or another error for a fault.
type Store interface {
	// GetCampaign reads a campaign with its counters. ErrNotFound if absent.
	GetCampaign(ctx context.Context, tenantID, incidentID string) (*Campaign, error)
	// PutCampaign creates c (ETag "") or replaces it if its ETag matches, and
	// sets the new ETag. ErrConflict on an existing one or a mismatch. It
	// never changes the counters.
	PutCampaign(ctx context.Context, c *Campaign) error
	// AddRecipients stores rs in list, in order, skipping any whose Key the
	// list already holds, and numbering the others from next on; it returns
	// the next free number. Idempotent per Key.
	AddRecipients(ctx context.Context, tenantID, incidentID, listID string, next int64, rs []Recipient) (int64, error)
	// DeleteList deletes a list's recipients, at most limit rows, and returns
	// how many it deleted (0: none left).
	DeleteList(ctx context.Context, tenantID, incidentID, listID string, limit int) (int, error)
	// DeleteLedger deletes the incident's ledger rows, at most limit, and
	// returns how many it deleted (0: none left).
	DeleteLedger(ctx context.Context, tenantID, incidentID string, limit int) (int, error)
	// Deliveries returns the recipients of list numbered from..to, in order,
	// with their ledger state for channel and version.
	Deliveries(ctx context.Context, tenantID, incidentID, listID, channel string, version int, from, to int64) ([]Delivery, error)
	// Record writes ledger entries, each unless its row is already
	// terminal, and counts the terminal ones in their campaign's counters, in
	// one write. It reports which changed anything: a second Record of a sent
	// message is a no-op.
	Record(ctx context.Context, es ...LedgerEntry) ([]bool, error)
	// ClaimBatch gives a batch to owner until then unless another owner
	// holds it past now; a renewal by the holder always succeeds. It reports
	// whether owner holds the batch.
	ClaimBatch(ctx context.Context, tenantID, incidentID string, batch int64, owner string, now, until time.Time) (bool, error)
	// ReleaseBatch ends owner's claim, if it still holds it.
	ReleaseBatch(ctx context.Context, tenantID, incidentID string, batch int64, owner string) error
	// StageList records that listID's rows must be purged at purgeAt unless
	// the list is then the campaign's: written before an upload's first row,
	// so that no crash leaves rows nobody knows of. Idempotent.
	StageList(ctx context.Context, tenantID, incidentID, listID string, purgeAt time.Time) error
	// UnstageList removes that record. Idempotent.
	UnstageList(ctx context.Context, tenantID, incidentID, listID string) error
	// Expired returns up to limit things to purge, of any tenant, due before
	// now: campaigns whose list expired, and staged lists.
	Expired(ctx context.Context, now time.Time, limit int) ([]Due, error)
	// TenantCampaigns returns the incident ids of the tenant's campaigns in
	// state.
	TenantCampaigns(ctx context.Context, tenantID, state string) ([]string, error)
	// LiveClaims counts the tenant's batch claims that run past now.
	LiveClaims(ctx context.Context, tenantID string, now time.Time) (int, error)
}

// Queue messages of the breachsend function: ids and ranges only.
const (
	EventPlan  = "io.privops.breachsend.plan.v1"  // enqueue the next batches
	EventBatch = "io.privops.breachsend.batch.v1" // deliver one range of recipients
	EventPurge = "io.privops.breachsend.purge.v1" // purge a campaign's list once expired
)

// Work is the data of every breachsend message.
type Work struct {
	IncidentID string `json:"incidentId"`
	ListID     string `json:"listId,omitempty"`
	Version    int    `json:"version,omitempty"`
	Batch      int64  `json:"batch"`          // plan: the first batch to enqueue; batch: its index
	From       int64  `json:"from,omitempty"` // batch: recipient ids from..to
	To         int64  `json:"to,omitempty"`
	Round      int    `json:"round,omitempty"` // batch: 0, then 1, 2, ... for its retries
}

// Config holds the fan-out's settings.
type Config struct {
	Queue       string        // BREACH_SEND_QUEUE
	BatchSize   int           // BREACH_SEND_BATCH: recipients per batch message
	PlanStep    int           // batch messages per plan message (default 200)
	Rate        float64       // BREACH_SEND_RATE: messages per second per process
	Concurrency int           // BREACH_SEND_CONNECTIONS: parallel sends per batch
	MaxAttempts int           // BREACH_SEND_MAX_ATTEMPTS
	RetryBase   time.Duration // BREACH_SEND_RETRY_BASE: first backoff, doubled per attempt
	Keep        time.Duration // BREACH_RECIPIENTS_KEEP: after the campaign's end
	MaxCount    int64         // BREACH_RECIPIENTS_MAX
	MaxBytes    int64         // BREACH_RECIPIENTS_MAX_BYTES
	From        string        // the sender shown in the mail (MAIL_FROM)
}

// Deps are the fan-out's collaborators.
type Deps struct {
	Store     Store
	Notices   NoticeSource // nil: every incident is unknown
	Publisher privacy.Publisher
	// Mailer is the breach lane's own mailer, never the one of the codes and
	// DSR notices.
	Mailer privacy.Mailer
	// Audit appends to the tenant's audit chain (idempotent by event id).
	Audit  func(ctx context.Context, e *privacy.AuditEvent) error
	Key    []byte // keyed hashes of addresses and Message-IDs
	Now    func() time.Time
	NewID  func() string
	Step   func(string) // crash-test hook; nil in production
	Logger *slog.Logger
}

// Service is the subject fan-out.
type Service struct {
	cfg       Config
	d         Deps
	limiter   *limiter
	recorders recorders
}

// New checks cfg and returns the service.
func New(cfg Config, d Deps) (*Service, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.PlanStep <= 0 {
		cfg.PlanStep = 200
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Minute
	}
	if cfg.MaxCount <= 0 {
		cfg.MaxCount = 5_000_000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1 << 30
	}
	if cfg.Queue == "" {
		return nil, errors.New("breachsend: no queue")
	}
	if d.Store == nil || d.Publisher == nil || d.Mailer == nil || len(d.Key) < 16 || d.Now == nil || d.NewID == nil {
		return nil, errors.New("breachsend: store, publisher, mailer, key, clock and ids are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Step == nil {
		d.Step = func(string) {}
	}
	return &Service{cfg: cfg, d: d, limiter: newLimiter(cfg.Rate, d.Now)}, nil
}

// mac is the keyed hash of parts, hex.
func (s *Service) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.d.Key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// recipientKey is the keyed hash of a normalised address within a tenant:
// the dedupe key and the ledger's recipient, so the ledger holds no address.
func (s *Service) recipientKey(tenantID, email string) string {
	return s.mac("breachsend-recipient", tenantID, email)[:32]
}

// MailID is the deterministic Message-ID (left part) of the ledger key: a
// resend after a crash carries the same one, so it can be recognised.
func (s *Service) MailID(tenantID, incidentID, recipientKey, channel string, version int) string {
	return "breach-" + s.mac("breachsend-mail", tenantID, incidentID, recipientKey, channel, fmt.Sprint(version))[:40]
}

// notice resolves an incident's notice; unknown-incident if there is none.
func (s *Service) notice(ctx context.Context, tenantID, incidentID string) (Notice, error) {
	if s.d.Notices == nil {
		return Notice{}, errUnknownIncident()
	}
	n, err := s.d.Notices.SubjectNotice(ctx, tenantID, incidentID)
	if errors.Is(err, privacy.ErrNotFound) {
		return Notice{}, errUnknownIncident()
	}
	if err != nil {
		return Notice{}, fmt.Errorf("read the subject notice: %w", err)
	}
	return n, nil
}

func errUnknownIncident() error {
	return privacy.Errorf(privacy.KindNotFound, "unknown-incident", "no such incident")
}

// audit appends an event to the tenant's chain, if an audit sink is wired.
func (s *Service) audit(ctx context.Context, tenantID, id, actor, action, incidentID string, details map[string]string) error {
	if s.d.Audit == nil {
		return nil
	}
	return s.d.Audit(ctx, &privacy.AuditEvent{ID: id, TenantID: tenantID, At: s.d.Now().UTC(), Actor: actor,
		Action: action, Target: "incident/" + incidentID, Details: details})
}
