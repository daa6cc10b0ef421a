// Package inbound takes messages from tenants' own systems (queue trigger on
// the inbound queue, %INBOUND_QUEUE%): a data subject request an HR system
// opens, a service's result for a task privops sent it. Each message is a
// signed CloudEvent (contract/ in the repository; package sender builds them);
// a sub-processor's breach report registers an incident (shared/breach).
// The function checks the signature with the named tenant's key, drops a
// message whose CloudEvents id it already carried out, and runs the same
// domain operation the HTTP API runs. Side effects: a request created, a task
// completed or failed, a Service Bus service's answer to a retention purge
// command counted in its run (shared/retention), and one inbound record per
// message (accepted, or rejected with its code and reason, which the
// tenant's admins list).
//
// A permanently bad message (forged, malformed, unknown type, tenant or task)
// is recorded as rejected and acknowledged, never retried; a transient failure
// (the store down) is returned, so the broker redelivers it and, after its
// maximum delivery count, dead-letters it. `privops replay` re-submits both
// after a fix.
package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/dsr"
	msgs "github.com/privops/privops/shared/inbound"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/trigger"
)

// Service is what the function needs of the request lifecycle.
type Service interface {
	Tenant(ctx context.Context, id string) (*privacy.Tenant, error)
	InboundSecret(ctx context.Context, tenantID, keyID string) ([]byte, error)
	InboundRecord(ctx context.Context, tenantID, id string) (*privacy.InboundRecord, error)
	RecordInbound(ctx context.Context, r *privacy.InboundRecord) (bool, error)
	Submit(ctx context.Context, tenantID string, sub dsr.Submission, idemKey string, actor dsr.Actor) (*dsr.Submitted, error)
	Target(ctx context.Context, tenantID, requestID, taskID string) (*dsr.TaskTarget, error)
	CompleteTask(ctx context.Context, tg *dsr.TaskTarget, res dsr.Result, actor dsr.Actor) (*privacy.Task, error)
	FailTask(ctx context.Context, tg *dsr.TaskTarget, reason string, permanent bool, actor dsr.Actor) (*privacy.Task, error)
}

// Breach registers a sub-processor's breach report (shared/breach). The
// incident id is derived from the tenant, source and event id, so a
// duplicate report returns the first incident.
type Breach interface {
	Declare(ctx context.Context, d breach.Declaration, o breach.Origin) (*breach.Incident, bool, error)
}

// Retention counts a Service Bus service's answer to a retention purge
// command (shared/retention); refusals are *privacy.Error (unknown-purge,
// purge-not-awaited, purge-answered) and change nothing.
type Retention interface {
	RecordPurgeAnswer(ctx context.Context, tenantID string, a retention.PurgeAnswer) error
}

// Config holds the function's policy.
type Config struct {
	Window       time.Duration // replay window of a signature (msgs.DefaultWindow)
	KeepRejected time.Duration // how long a rejected message's body is kept for a replay (14 days)
}

// Deps are the function's collaborators.
type Deps struct {
	Service Service
	// Breach takes com.privops.breach.reported.v1; nil refuses it as unknown-type.
	Breach Breach
	// Retention takes com.privops.purge.completed.v1; nil refuses it as unknown-type.
	Retention Retention
	Logger    *slog.Logger
	Now       func() time.Time
}

// Processor runs the inbound pipeline for the queue function and for replays.
type Processor struct {
	cfg Config
	d   Deps
}

// New returns the processor.
func New(cfg Config, d Deps) *Processor {
	if cfg.Window <= 0 {
		cfg.Window = msgs.DefaultWindow
	}
	if cfg.KeepRejected <= 0 {
		cfg.KeepRejected = 14 * 24 * time.Hour
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Processor{cfg: cfg, d: d}
}

// Delivery is one message to process.
type Delivery struct {
	MessageID   string
	Body        []byte
	ContentType string
	Properties  map[string]string
	// At is when the broker accepted the message (its enqueued time): the
	// signature's window is measured from it, so a message that waited out
	// redeliveries is still fresh, and a copy sent again later is not.
	At time.Time
}

// Status says what became of a message.
type Status string

// Statuses of a processed message.
const (
	Accepted  Status = "accepted"
	Duplicate Status = "duplicate" // already carried out: nothing changed
	Rejected  Status = "rejected"
)

// Outcome is the result of one message.
type Outcome struct {
	Status    Status
	Code      string // rejected: the code
	Reason    string // rejected: why (no personal data)
	TenantID  string // the tenant it was recorded under
	RequestID string
}

// Queue returns the queue function.
func (p *Processor) Queue() trigger.QueueFunc {
	return func(ctx context.Context, m trigger.Message) error {
		log := p.d.Logger.With("function", "inbound", "message_id", m.ID, "delivery_count", m.DeliveryCount)
		if inv, ok := trigger.InvocationFrom(ctx); ok {
			log = log.With("invocation_id", inv.ID)
		}
		out, err := p.Handle(ctx, Delivery{MessageID: m.ID, Body: m.Body, ContentType: m.ContentType, Properties: m.Properties, At: m.EnqueuedAt})
		if err != nil {
			log.WarnContext(ctx, "inbound message failed; it will be redelivered", "error", err.Error())
			return err
		}
		log = log.With("tenant_id", out.TenantID, "status", string(out.Status))
		if out.Status == Rejected {
			log.WarnContext(ctx, "inbound message rejected", "code", out.Code, "reason", out.Reason)
			return trigger.Reject(out.Code + ": " + out.Reason)
		}
		log.InfoContext(ctx, "inbound message carried out", "request_id", out.RequestID)
		return nil
	}
}

// Handle runs one message: decode and verify, drop a duplicate, carry it
// out, record it. It returns an error only for a transient failure; a
// rejection is an Outcome, already recorded.
func (p *Processor) Handle(ctx context.Context, d Delivery) (Outcome, error) {
	at := d.At
	if at.IsZero() {
		at = p.d.Now()
	}
	at = at.UTC()
	m, err := msgs.Decode(ctx, msgs.Delivery{Body: d.Body, ContentType: d.ContentType, Properties: d.Properties}, at, p.keys,
		msgs.Window(p.cfg.Window))
	var bad *msgs.Error
	if errors.As(err, &bad) {
		return p.reject(ctx, d, at, "", string(bad.Code), bad.Reason)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("decode: %w", err)
	}
	rec := &privacy.InboundRecord{TenantID: m.TenantID, ID: acceptedID(m), EventID: m.ID, MessageID: d.MessageID,
		Type: m.Type, Source: m.Source, Status: privacy.InboundAccepted, ReceivedAt: at}
	switch prev, err := p.d.Service.InboundRecord(ctx, m.TenantID, rec.ID); {
	case err == nil:
		return Outcome{Status: Duplicate, TenantID: m.TenantID, RequestID: prev.RequestID}, nil
	case !errors.Is(err, privacy.ErrNotFound):
		return Outcome{}, fmt.Errorf("dedupe: %w", err)
	}
	requestID, err := p.carryOut(ctx, m)
	if perr, ok := privacy.AsError(err); ok && perr.Code == "task-not-waiting" {
		// A fast service can answer before the claim that sent it the task
		// is recorded: the broker redelivers the answer a moment later (and
		// dead-letters it if the task never waits).
		return Outcome{}, fmt.Errorf("%w: the task is not waiting for an answer yet", privacy.ErrUnavailable)
	}
	if perr, ok := privacy.AsError(err); ok && perr.Kind != privacy.KindUnavailable {
		return p.reject(ctx, d, at, m.TenantID, perr.Code, perr.Message)
	}
	if err != nil {
		return Outcome{}, err
	}
	rec.RequestID = requestID
	if _, err := p.d.Service.RecordInbound(ctx, rec); err != nil {
		return Outcome{}, err
	}
	return Outcome{Status: Accepted, TenantID: m.TenantID, RequestID: requestID}, nil
}

// keys adapts the tenant's key store to the decoder's lookup contract.
func (p *Processor) keys(ctx context.Context, tenantID, keyID string) ([]byte, error) {
	secret, err := p.d.Service.InboundSecret(ctx, tenantID, keyID)
	if errors.Is(err, dsr.ErrNoSuchKey) {
		return nil, msgs.ErrUnknownKey
	}
	return secret, err
}

// carryOut runs the domain operation the message asks for, as the tenant's
// system (its source), and returns the request it concerns. Every operation is
// idempotent, so a crash before the record is written only repeats it.
func (p *Processor) carryOut(ctx context.Context, m *msgs.Message) (string, error) {
	actor := dsr.Actor{System: m.Source}
	switch {
	case m.Requested != nil:
		r := m.Requested
		sub := dsr.Submission{Type: r.Type, Email: r.Subject.Email, Country: r.Subject.Country, Region: r.Subject.Region,
			UserID: r.Subject.UserID, Phone: r.Subject.Phone, Categories: r.Categories, Changes: r.Changes, Purposes: r.Purposes,
			Details: r.Details, ExternalRef: r.ExternalRef}
		// The CloudEvents id, unique per source, is the idempotency key: a
		// second delivery returns the first request.
		res, err := p.d.Service.Submit(ctx, m.TenantID, sub, "inbound:"+m.Source+"\x00"+m.ID, actor)
		if err != nil {
			return "", err
		}
		return res.Request.ID, nil
	case m.TaskCompleted != nil:
		c := m.TaskCompleted
		tg, err := p.target(ctx, m.TenantID, c.RequestID, c.TaskID)
		if err != nil {
			return "", err
		}
		_, err = p.d.Service.CompleteTask(ctx, tg, dsr.Result{Outcome: c.Outcome, Items: c.Items, Reason: c.Reason, Note: c.Note}, actor)
		return c.RequestID, err
	case m.TaskFailed != nil:
		f := m.TaskFailed
		tg, err := p.target(ctx, m.TenantID, f.RequestID, f.TaskID)
		if err != nil {
			return "", err
		}
		_, err = p.d.Service.FailTask(ctx, tg, f.Reason, f.Permanent, actor)
		return f.RequestID, err
	case m.BreachReported != nil && p.d.Breach != nil:
		// A sub-processor may only report about the tenant whose key signed
		// the report: the incident names that tenant alone (the security
		// officer widens the scope through the operator API if need be).
		b := m.BreachReported
		d := breach.Declaration{DetectedAt: b.DetectedAt, AwareAt: b.AwareAt, DeterminedAt: b.DeterminedAt, Jurisdictions: b.Jurisdictions,
			Grade: b.Grade, Tenants: []string{m.TenantID}, Facts: breach.Facts{Title: b.Title, Nature: b.Nature, Categories: b.Categories,
				SubjectGroups: b.SubjectGroups, SubjectsApprox: b.SubjectsApprox, RecordsApprox: b.RecordsApprox, Consequences: b.Consequences,
				Measures: b.Measures, Contact: b.Contact, Risk: b.Risk, Cause: b.Cause, Residents: b.Residents}}
		inc, _, err := p.d.Breach.Declare(ctx, d, breach.Origin{Actor: actor.String(), Source: m.Source, EventID: m.ID, ReportTenant: m.TenantID})
		if err != nil {
			return "", err
		}
		// The record's request id names the incident.
		return inc.ID, nil
	case m.PurgeCompleted != nil && p.d.Retention != nil:
		// The tenant is the signer's: an answer about another tenant's
		// run finds no such run under this one (unknown-purge).
		c := m.PurgeCompleted
		err := p.d.Retention.RecordPurgeAnswer(ctx, m.TenantID, retention.PurgeAnswer{ID: acceptedID(m), RunID: c.RunID,
			PolicyID: c.PolicyID, DryRun: c.DryRun, NotSupported: c.Outcome == sender.PurgeNotSupported,
			Purged: c.Purged, Kept: c.Kept, KeptByHold: c.KeptByHold})
		// The record's request id names the run.
		return c.RunID, err
	}
	return "", privacy.Errorf(privacy.KindInvalid, "unknown-type", "the message carries no data this suite handles")
}

// target loads the task a result names. Only a Service Bus service answers
// over this queue; a webhook or manual task has its own channel.
func (p *Processor) target(ctx context.Context, tenantID, requestID, taskID string) (*dsr.TaskTarget, error) {
	tg, err := p.d.Service.Target(ctx, tenantID, requestID, taskID)
	if err != nil {
		return nil, err
	}
	if tg.Task.Kind != privacy.KindServiceBus {
		return nil, privacy.Errorf(privacy.KindConflict, "wrong-channel", "the task's service is of kind %s; only servicebus services report over the inbound queue", tg.Task.Kind)
	}
	return tg, nil
}

// reject records a refused message and returns its outcome. The record goes
// under the tenant the message names when that tenant exists (its admins see
// that something failed, even a forgery in their name), else under the
// operator's partition. The same bytes rejected again keep one record.
func (p *Processor) reject(ctx context.Context, d Delivery, at time.Time, tenantID, code, reason string) (Outcome, error) {
	if tenantID == "" {
		var err error
		if tenantID, err = p.namedTenant(ctx, d.Body); err != nil {
			return Outcome{}, err
		}
	}
	sum := sha256.New()
	sum.Write(d.Body)
	sum.Write([]byte{0})
	sum.Write([]byte(d.Properties[msgs.SignatureProperty]))
	rec := &privacy.InboundRecord{TenantID: tenantID, ID: "rj-" + hex.EncodeToString(sum.Sum(nil)[:16]), MessageID: d.MessageID,
		Status: privacy.InboundRejected, Code: code, Reason: reason, ReceivedAt: at,
		Body: d.Body, ContentType: d.ContentType, Properties: d.Properties, ExpiresAt: p.d.Now().UTC().Add(p.cfg.KeepRejected)}
	// What the envelope says of itself is recorded for the admins, unverified.
	var env struct{ ID, Type, Source string }
	if json.Unmarshal(d.Body, &env) == nil && len(env.ID) <= 128 && len(env.Type) <= 128 && len(env.Source) <= 256 {
		rec.EventID, rec.Type, rec.Source = env.ID, env.Type, env.Source
	}
	if _, err := p.d.Service.RecordInbound(ctx, rec); err != nil {
		return Outcome{}, err
	}
	return Outcome{Status: Rejected, Code: code, Reason: reason, TenantID: tenantID}, nil
}

// namedTenant returns the tenant the body names if it exists, else the
// operator's partition. Only a failed lookup is an error (transient).
func (p *Processor) namedTenant(ctx context.Context, body []byte) (string, error) {
	var env struct {
		TenantID string `json:"tenantid"`
	}
	if json.Unmarshal(body, &env) != nil || !privacy.ValidTenantID(env.TenantID) {
		return privacy.OperatorTenant, nil
	}
	_, err := p.d.Service.Tenant(ctx, env.TenantID)
	perr, isDomain := privacy.AsError(err)
	switch {
	case err == nil:
		return env.TenantID, nil
	case errors.Is(err, privacy.ErrNotFound) || isDomain && perr.Kind == privacy.KindNotFound:
		return privacy.OperatorTenant, nil
	}
	return "", fmt.Errorf("tenant of a rejected message: %w", err)
}

// acceptedID is the dedupe key of a carried-out message: its CloudEvents id,
// unique per source.
func acceptedID(m *msgs.Message) string {
	h := sha256.Sum256([]byte(m.Source + "\x00" + m.ID))
	return "ce-" + hex.EncodeToString(h[:16])
}

// ReplayService is what a replay needs besides the pipeline.
type ReplayService interface {
	ListRejected(ctx context.Context, tenantID string, cursor string) (privacy.InboundPage, error)
	MarkReplayed(ctx context.Context, r *privacy.InboundRecord) error
}

// Replayed counts what a replay did.
type Replayed struct {
	Accepted, Duplicate, Rejected int
}

// ReplayRejected runs every rejected message of the tenant (or of the
// operator's partition) through the pipeline again, after a fix: its
// signature is checked against the time it first arrived. A message carried
// out now is marked replayed (its body dropped); one rejected again keeps its
// record as it was.
func (p *Processor) ReplayRejected(ctx context.Context, rs ReplayService, tenantID string) (Replayed, error) {
	var n Replayed
	cursor := ""
	for {
		page, err := rs.ListRejected(ctx, tenantID, cursor)
		if err != nil {
			return n, err
		}
		for _, rec := range page.Records {
			if len(rec.Body) == 0 {
				// A retention policy removed its body: nothing to replay.
				n.Rejected++
				continue
			}
			out, err := p.Handle(ctx, Delivery{MessageID: rec.MessageID, Body: rec.Body, ContentType: rec.ContentType,
				Properties: rec.Properties, At: rec.ReceivedAt})
			if err != nil {
				return n, err
			}
			switch out.Status {
			case Rejected:
				n.Rejected++
				continue
			case Duplicate:
				n.Duplicate++
			default:
				n.Accepted++
			}
			if err := rs.MarkReplayed(ctx, rec); err != nil {
				return n, err
			}
		}
		if page.Next == "" {
			return n, nil
		}
		cursor = page.Next
	}
}
