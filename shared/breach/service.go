package breach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Tenants is what the service reads of tenants: their breach settings, and
// every tenant to resolve a scope (privacy.Store satisfies it).
type Tenants interface {
	GetTenant(ctx context.Context, id string) (*privacy.Tenant, error)
	ListTenants(ctx context.Context) ([]*privacy.Tenant, error)
}

// Audit appends to a tenant's (or the operator's) chain, idempotently by
// event id (privacy.Store satisfies it).
type Audit interface {
	AppendAudit(ctx context.Context, e *privacy.AuditEvent) error
}

// Hook posts a signed notice to a tenant's breach webhook. It returns nil
// for a 2xx answer and an error otherwise (never the URL's secret).
type Hook interface {
	Post(ctx context.Context, url string, secret, body []byte, allowPrivate bool) error
}

// Config holds the service's policy.
type Config struct {
	// PublicURL is the suite's base URL (the acknowledgement links point at
	// PublicURL + "/api/breach/ack/...").
	PublicURL string
	// AckKey signs acknowledgement links (derived from the root secret).
	AckKey []byte
	// OutboxLease is how long an unfinished outbox waits before the watch
	// finishes it (default 1 minute).
	OutboxLease time.Duration
	// Rules are the clocks (DefaultRules when nil, parsed on first use).
	Rules *Rules
}

// Deps are the service's collaborators.
type Deps struct {
	Store   Store
	Tenants Tenants
	Audit   Audit
	Mailer  privacy.Mailer
	Hook    Hook // nil: webhooks are not sent (recorded as failed)
	Now     func() time.Time
	NewID   func() string
	Logger  *slog.Logger
	// Step is called after each durable step by name (crash tests); nil: none.
	Step func(string)
}

// Service runs the breach flow.
type Service struct {
	cfg Config
	d   Deps
}

// New returns the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Store == nil || d.Tenants == nil || d.Audit == nil || d.Mailer == nil {
		return nil, errors.New("breach: store, tenants, audit and mailer are required")
	}
	if len(cfg.AckKey) < 16 {
		return nil, errors.New("breach: an acknowledgement key of at least 16 bytes is required")
	}
	if cfg.OutboxLease <= 0 {
		cfg.OutboxLease = time.Minute
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.NewID == nil {
		d.NewID = func() string { return fmt.Sprintf("%x", d.Now().UnixNano()) }
	}
	return &Service{cfg: cfg, d: d}, nil
}

func (s *Service) now() time.Time { return s.d.Now().UTC() }

func (s *Service) step(name string) {
	if s.d.Step != nil {
		s.d.Step(name)
	}
}

// Rules returns the clock rules in force. The embedded ones are parsed on
// first use, not in New: most processes start, answer and stop without an
// incident, and parsing them (with the deadline rules' calendars they name)
// was about 5 % of a start (issue 16).
func (s *Service) Rules() *Rules {
	if s.cfg.Rules != nil {
		return s.cfg.Rules
	}
	return DefaultRules()
}

// hashID returns prefix + the first 16 bytes of SHA-256 over parts, hex.
func hashID(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// flushAudit appends the pending audit events (idempotent by id) and
// returns those that failed to append.
func (s *Service) flushAudit(ctx context.Context, evs []privacy.AuditEvent) ([]privacy.AuditEvent, error) {
	for i := range evs {
		e := evs[i]
		if err := s.d.Audit.AppendAudit(ctx, &e); err != nil {
			return evs[i:], err
		}
	}
	return nil, nil
}

// audit returns an audit event for tenant's chain.
func auditEvent(tenantID, id string, at time.Time, actor, action, target string, details map[string]string) privacy.AuditEvent {
	return privacy.AuditEvent{ID: id, TenantID: tenantID, At: at, Actor: actor, Action: action, Target: target, Details: details}
}
