// Package dsr runs the data subject request lifecycle on the domain's ports:
// intake (portal, admin on behalf), identity verification by one-time code,
// approval, denial, extension, cancellation, deadlines, and the outbox that turns
// every state change into audit entries and notice messages exactly once.
// It is called by the portal, admin and notify functions and by the deadline
// watch; it reads no environment and no clock of its own.
package dsr

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Keys are the secrets the service derives its hashes and tokens from.
type Keys struct {
	// Subject keys the subject hash the audit refers to. It must never change,
	// or the audit can no longer be matched to a subject.
	Subject []byte
	// Token is the parent of the per-purpose keys of request tokens, one-time
	// code hashes, idempotency ids and download links (keys.go); values made
	// before those keys existed are checked with it.
	Token []byte
}

// Config holds the service's policy settings.
type Config struct {
	NoticesQueue string        // queue the notify function consumes
	CodeTTL      time.Duration // one-time code lifetime (15 min)
	MaxAttempts  int           // wrong codes allowed per request (5)
	MaxCodeSends int           // codes mailed per request (3)
	// UnverifiedExpiry is how long a request may wait for its code (7 days):
	// then the watch cancels it and removes the personal data it carries
	// (unverified.go).
	UnverifiedExpiry time.Duration
	// ClarificationWait is how long a clock paused for a clarification stays
	// stopped without an answer (30 days): then the watch restarts it
	// (clarification.go).
	ClarificationWait time.Duration
	// DigestHour is the tenant-local hour from which the watch mails the
	// day's deadline digest to the tenant's privacy contact (digest.go); -1
	// turns it off.
	DigestHour  int
	OutboxLease time.Duration // after this, the watch re-drives an unflushed outbox
	// DeferOutbox leaves a write's outbox to a change-feed consumer (the
	// outbox function calls FlushRequest) instead of flushing it inline, so
	// the caller answers after its own write. The watch is the fallback.
	DeferOutbox   bool
	PortalBaseURL string // shown in mails, e.g. https://privacy.example.com
	// PublicURL is where this app's HTTP functions are reached from outside
	// (download links, webhook callbacks), e.g. https://privops.example.com.
	PublicURL string

	TasksQueue        string        // queue the tasks function consumes
	TaskLease         time.Duration // a claimed task is re-driven after this (5m)
	RetryBase         time.Duration // first retry delay after a transient failure (30s)
	RetryCap          time.Duration // longest retry delay (1h)
	TaskMaxAttempts   int           // runs of one task before it fails (10)
	TaskMaxDeliveries int           // deliveries of one message before its task fails (8)

	// ReservedTenantIDs can never be onboarded: the tenant-claim value that
	// marks an operator token (AUTH_OPERATOR_TENANT), when it is a valid id.
	ReservedTenantIDs []string
	// CallbackTimeout is how long a waiting task waits for its service's
	// answer before it is called again with the same Idempotency-Key (24h).
	CallbackTimeout time.Duration
	// OffboardNotice is the wait between an operator's offboarding request
	// and the purge of the tenant (OFFBOARD_NOTICE, 30 days): the time the
	// controller has to download its return package.
	OffboardNotice time.Duration
}

// Deps are the ports and helpers the service uses.
type Deps struct {
	Store     privacy.Store
	Publisher privacy.Publisher
	Mailer    privacy.Mailer
	Blobs     privacy.Blobs
	// Inbound records messages from tenants' systems (optional: only the
	// inbound queue function needs it).
	Inbound privacy.InboundLog
	// Connectors run tasks, one per connector kind.
	Connectors map[privacy.ConnectorKind]privacy.Connector
	Now        func() time.Time
	Logger     *slog.Logger
	// Step, if set, is called after each durable step with its name. Tests (and
	// the crash-point harness) use it to stop the process between two steps.
	Step func(name string)
	// TaskSettled, if set, is told each task result once its write committed
	// (a run's outcome, a retry scheduled, an answer through the callback or
	// inbound queue): the tasks-by-outcome metric. Ids and enums only.
	TaskSettled func(ctx context.Context, tenantID string, action privacy.Action, status privacy.TaskStatus)
	// TraceContext, if set, returns the W3C trace context (traceparent,
	// tracestate) of the span in ctx, "" outside one. Flush copies it into each
	// message it publishes (the CloudEvents distributed-tracing extension), so
	// the consumer's span continues the producer's trace.
	TraceContext func(ctx context.Context) (traceparent, tracestate string)
}

// Service runs the request lifecycle.
type Service struct {
	cfg    Config
	keys   Keys
	d      Deps
	hasher privacy.SubjectHasher
	pk     purposeKeys // one key per purpose, derived from keys.Token (keys.go)
	gates  gates       // per-request write combining (combine.go)
	// tenants are the tenants read lately, checked by ETag (tenantcache.go).
	tenants tenantCache
	// spool sends code mails after the answer (spool.go); nil while
	// RunMailSpool is not running, and then they are sent before it.
	spool atomic.Pointer[mailSpool]
}

// New returns a Service. It checks the policy floors.
func New(cfg Config, keys Keys, d Deps) (*Service, error) {
	switch {
	case len(keys.Subject) < 32 || len(keys.Token) < 32:
		return nil, errors.New("dsr: keys must be at least 32 bytes")
	case cfg.NoticesQueue == "":
		return nil, errors.New("dsr: notices queue is required")
	case cfg.CodeTTL < time.Minute || cfg.CodeTTL > time.Hour:
		return nil, fmt.Errorf("dsr: code lifetime %s is outside 1m..1h", cfg.CodeTTL)
	case cfg.MaxAttempts < 1 || cfg.MaxAttempts > 10:
		return nil, fmt.Errorf("dsr: max code attempts %d is outside 1..10", cfg.MaxAttempts)
	case d.Store == nil || d.Publisher == nil || d.Mailer == nil || d.Now == nil:
		return nil, errors.New("dsr: store, publisher, mailer and clock are required")
	}
	if cfg.MaxCodeSends < 1 {
		cfg.MaxCodeSends = 3
	}
	if cfg.UnverifiedExpiry <= 0 {
		cfg.UnverifiedExpiry = 7 * 24 * time.Hour
	}
	if cfg.ClarificationWait <= 0 {
		cfg.ClarificationWait = 30 * 24 * time.Hour
	}
	if cfg.TasksQueue == "" {
		cfg.TasksQueue = "privops-tasks"
	}
	if cfg.TaskLease <= 0 {
		cfg.TaskLease = 5 * time.Minute
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.RetryCap < cfg.RetryBase {
		cfg.RetryCap = max(time.Hour, cfg.RetryBase)
	}
	if cfg.TaskMaxAttempts <= 0 {
		cfg.TaskMaxAttempts = 10
	}
	if cfg.TaskMaxDeliveries <= 0 {
		cfg.TaskMaxDeliveries = 8
	}
	if cfg.CallbackTimeout <= 0 {
		cfg.CallbackTimeout = 24 * time.Hour
	}
	if cfg.OffboardNotice <= 0 {
		cfg.OffboardNotice = 30 * 24 * time.Hour
	}
	if cfg.OutboxLease <= 0 {
		cfg.OutboxLease = 2 * time.Minute
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Step == nil {
		d.Step = func(string) {}
	}
	return &Service{cfg: cfg, keys: keys, d: d, hasher: privacy.SubjectHasher{Key: keys.Subject}, pk: derivePurposes(keys.Token)}, nil
}

// now is the invocation's time, in UTC, truncated to the microsecond so it
// round-trips through every store unchanged.
func (s *Service) now() time.Time { return s.d.Now().UTC().Truncate(time.Microsecond) }

// mac is the legacy key's MAC: every purpose's values were made with it
// before per-purpose keys (keys.go); now only old values are checked with it.
func (s *Service) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.keys.Token)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// newID returns a new id with a prefix: 128 bits, hex, laid out as a
// UUIDv7's (RFC 9562): the first 48 bits are the creation time in Unix
// milliseconds, the other 80 random. Rows keyed or indexed by such ids (a
// request, its audit entries, its code mail, its notices) are inserted at the
// end of their b-tree, into a page the previous insert wrote, not into a
// random page of a table that grows without bound: with random ids a
// submission wrote about 110 KB to disk under intake load (the SQLite file,
// its WAL and the code mail), with these about 37 KB (issue 16, goal 1;
// docs/performance.md). The time they show is the one the record
// holds anyway; the 80 random bits keep them unguessable.
func newID(prefix string) string {
	return newIDAt(prefix, time.Now())
}

func newIDAt(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return prefix + hex.EncodeToString(b[:])
}

// shortID returns a random id with a prefix and n random bytes, hex: for ids
// that are short by design (a key's, a hold's) and not keys of growing tables.
func shortID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newCode returns a uniformly random 6-digit code.
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// tenant loads a tenant, mapping absence to a user error.
func (s *Service) tenant(ctx context.Context, id string) (*privacy.Tenant, error) {
	if !privacy.ValidTenantID(id) {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-tenant", "no such tenant")
	}
	t, err := s.getTenant(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-tenant", "no such tenant")
	}
	if err != nil {
		return nil, fmt.Errorf("get tenant: %w", err)
	}
	return t, nil
}

// Tenant returns a tenant or a not-found user error.
func (s *Service) Tenant(ctx context.Context, id string) (*privacy.Tenant, error) {
	return s.tenant(ctx, id)
}

// request loads a request, mapping absence to a user error.
func (s *Service) request(ctx context.Context, tenantID, id string) (*privacy.Request, error) {
	r, err := s.d.Store.GetRequest(ctx, tenantID, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-request", "no such request")
	}
	if err != nil {
		return nil, fmt.Errorf("get request: %w", err)
	}
	return r, nil
}

// audit records an audit entry in r's outbox, to be appended by flush.
func (s *Service) audit(r *privacy.Request, at time.Time, actor, action string, details map[string]string) {
	id := newID("aud_")
	r.Outbox = append(r.Outbox, privacy.OutboxEvent{ID: id, At: at, Audit: &privacy.AuditEvent{
		ID: id, TenantID: r.TenantID, At: at, Actor: actor, Action: action,
		Target: "request/" + r.ID, SubjectHash: r.SubjectHash, Details: details,
	}})
}

// notice records a notice message in r's outbox, to be published by flush.
func (s *Service) notice(r *privacy.Request, at time.Time, notice string) error {
	id := newID("evt_")
	ev, err := privacy.NewEvent(id, privacy.EventNotice, r.TenantID, "request/"+r.ID, at,
		privacy.NoticeData{RequestID: r.ID, Notice: notice})
	if err != nil {
		return err
	}
	r.Outbox = append(r.Outbox, privacy.OutboxEvent{ID: id, At: at, Queue: s.cfg.NoticesQueue, Message: &ev})
	return nil
}
