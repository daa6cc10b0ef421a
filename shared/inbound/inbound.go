// Package inbound decodes and authenticates the messages tenants' own systems
// send privops over Service Bus (or SQS): data subject requests to open
// (com.privops.dsr.requested.v1) and results of tasks privops gave a service
// (com.privops.dsr.task.completed.v1, com.privops.dsr.task.failed.v1),
// breach reports and answers to retention purge commands
// (com.privops.purge.completed.v1). The
// contract is in the repository's contract/ folder; the sender kit that builds
// such messages is package sender.
//
// Decode is called once per delivered message by the inbound queue function.
// It reads nothing but the tenant's signing key, writes nothing, and returns
// either a fully checked Message or an error, never a partial message.
//
// What Decode does not do: duplicate detection. A message replayed inside the
// signature window (the same bytes, signature and all) decodes again; the
// caller drops it as a duplicate by its (tenantid, source, id), which the
// store records, and Service Bus duplicate detection drops most resends
// earlier by the broker message id, which the sender kit sets to the event id.
package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"strings"
	"time"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/privacy"
)

// Limits and names of the contract, shared with the sender kit.
const (
	// MaxBodyBytes bounds a message body (the Service Bus standard tier limit).
	MaxBodyBytes = sender.MaxBodyBytes
	// SignatureProperty is the application property carrying the signature.
	SignatureProperty = sender.SignatureProperty
	// DefaultWindow is the replay window: a signature whose timestamp is further
	// than this from now, either way, is refused as stale or future.
	DefaultWindow = 5 * time.Minute
)

// Delivery is a message as the broker delivered it.
type Delivery struct {
	Body        []byte
	ContentType string            // the broker's content type property, "" if unset
	Properties  map[string]string // application properties (Service Bus) or message attributes (SQS)
}

// KeyFunc returns the secret of the tenant's active signing key keyID. Key ids
// are per tenant: the key is always looked up under the tenant the message
// names, which is how a tenant is kept from sending about another. It returns
//
//   - an error wrapping privacy.ErrNotFound when the tenant does not exist;
//   - ErrUnknownKey (or no secret and no error) when the tenant has no
//     active key with that id: never registered, or retired;
//   - ErrForeignKey when the key id is registered to another tenant (optional:
//     a store that cannot tell returns ErrUnknownKey);
//   - any other error when the lookup failed (privacy.ErrUnavailable): Decode
//     returns it wrapped, not as *Error, so the caller retries the message.
//
// It is called at most once per Decode, and only for a message whose
// signature property is well formed and within the window.
type KeyFunc func(ctx context.Context, tenantID, keyID string) ([]byte, error)

// Option changes how Decode checks a message.
type Option func(*options)

type options struct{ window time.Duration }

// Window sets the replay window (DefaultWindow when d <= 0).
func Window(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.window = d
		}
	}
}

// Message is a decoded, authenticated message. Exactly one of Requested,
// TaskCompleted, TaskFailed and BreachReported is set, according to Type.
type Message struct {
	ID       string    // the CloudEvents id, unique per Source: with TenantID, the dedupe key
	Source   string    // the sending system, a URI reference
	Type     string    // one of sender.Types
	Time     time.Time // when the occurrence happened, as the sender says (UTC)
	Subject  string    // optional; for task events the request id
	TenantID string    // the tenant the message is about, and its signer
	KeyID    string    // the tenant key that signed it
	SignedAt time.Time // the signature's timestamp (UTC)

	Requested     *Requested
	TaskCompleted *TaskCompleted
	TaskFailed    *TaskFailed
	// BreachReported: a sub-processor's breach report about the tenant.
	BreachReported *BreachReported
	// PurgeCompleted: a Service Bus service's answer to a purge command.
	PurgeCompleted *PurgeCompleted
}

// PurgeCompleted is the data of a com.privops.purge.completed.v1 message: a
// Service Bus service's counts for the purge command of run RunID and policy
// PolicyID. Counts only; not-supported counts nothing.
type PurgeCompleted struct {
	RunID      string `json:"runId"`
	PolicyID   string `json:"policyId"`
	DryRun     bool   `json:"dryRun"`
	Outcome    string `json:"outcome"`
	Purged     int64  `json:"purged"`
	Kept       int64  `json:"kept"`
	KeptByHold int64  `json:"keptByHold"`
}

// LogValue keeps the data, which may hold personal data, out of logs.
func (m *Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", m.ID), slog.String("type", m.Type),
		slog.String("source", m.Source), slog.String("tenant_id", m.TenantID), slog.String("key_id", m.KeyID))
}

// Requested is the data of a com.privops.dsr.requested.v1 message: a data
// subject request to open. Decode has checked it as dsr.Submission.Validate
// would (without normalising it): a Requested always passes that validation.
type Requested struct {
	Type        privacy.RequestType   `json:"type"`
	Subject     privacy.Subject       `json:"subject"`
	Categories  []privacy.Category    `json:"categories,omitempty"`
	Changes     []privacy.FieldChange `json:"changes,omitempty"`  // rectify only
	Purposes    []string              `json:"purposes,omitempty"` // restrict, lift-restriction, object
	Details     string                `json:"details,omitempty"`  // a note for the tenant's admins
	ExternalRef string                `json:"externalRef,omitempty"`
}

// LogValue keeps the subject and the free text out of logs.
func (r *Requested) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", string(r.Type)), slog.Int("categories", len(r.Categories)))
}

// TaskCompleted is the data of a com.privops.dsr.task.completed.v1 message,
// shaped for dsr.Result: Outcome done (Items counted), no-data (Items 0) or
// held (Items 0, Reason set).
type TaskCompleted struct {
	RequestID string          `json:"requestId"`
	TaskID    string          `json:"taskId"`
	Outcome   privacy.Outcome `json:"outcome"`
	Items     int             `json:"items,omitempty"`
	Reason    string          `json:"reason,omitempty"` // held only: why
	Note      string          `json:"note,omitempty"`   // what the service did
}

// BreachReported is the data of a com.privops.breach.reported.v1 message:
// a sub-processor's report of a personal data breach touching the signing
// tenant's data. Decode has checked it as breach.Declaration's validation
// would: awareness not before detection, a CAC grade with cn.
type BreachReported struct {
	DetectedAt     time.Time        `json:"detectedAt"`
	AwareAt        time.Time        `json:"awareAt"`
	DeterminedAt   time.Time        `json:"determinedAt,omitzero"`
	Jurisdictions  []string         `json:"jurisdictions"`
	Grade          string           `json:"grade,omitempty"`
	Title          string           `json:"title"`
	Nature         string           `json:"nature"`
	Categories     []string         `json:"categories"`
	SubjectGroups  []string         `json:"subjectGroups,omitempty"`
	SubjectsApprox int64            `json:"subjectsApprox"`
	RecordsApprox  int64            `json:"recordsApprox"`
	Consequences   string           `json:"consequences"`
	Measures       string           `json:"measures"`
	Contact        string           `json:"contact"`
	Risk           string           `json:"risk"`
	Cause          string           `json:"cause,omitempty"`
	Residents      map[string]int64 `json:"residents,omitempty"`
}

// TaskFailed is the data of a com.privops.dsr.task.failed.v1 message.
type TaskFailed struct {
	RequestID string `json:"requestId"`
	TaskID    string `json:"taskId"`
	Reason    string `json:"reason"`
	Permanent bool   `json:"permanent"` // retrying cannot help
}

// Decode checks a delivered message and returns it decoded, in this order:
// the body's size and the content type; the signature property's form and
// timestamp (within the window of now); the body's JSON and its tenantid; the
// HMAC with the tenant's key keyed by the property's key id; then the
// envelope and the data against the contract. The body is trusted only past
// the HMAC: until then only tenantid is read from it.
//
// A refused message gives an *Error (every one permanent); a failed key
// lookup gives that error wrapped (transient: retry). Decode never returns a
// message together with an error.
func Decode(ctx context.Context, d Delivery, now time.Time, keys KeyFunc, opts ...Option) (*Message, error) {
	o := options{window: DefaultWindow}
	for _, opt := range opts {
		opt(&o)
	}
	if len(d.Body) > MaxBodyBytes {
		return nil, refuse(CodeTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
	}
	if err := checkContentType(d.ContentType); err != nil {
		return nil, err
	}
	sig, err := parseSignature(d.Properties[SignatureProperty])
	if err != nil {
		return nil, err
	}
	switch age := now.Sub(sig.at); {
	case age > o.window:
		return nil, refuse(CodeStale, fmt.Sprintf("the signature is older than the %s window", o.window))
	case age < -o.window:
		return nil, refuse(CodeFuture, fmt.Sprintf("the signature is dated more than %s ahead", o.window))
	}
	env, err := parseEnvelope(d.Body)
	if err != nil {
		return nil, err
	}
	tenantID, err := env.tenantID()
	if err != nil {
		return nil, err
	}
	secret, err := lookup(ctx, keys, tenantID, sig.keyID)
	if err != nil {
		return nil, err
	}
	if !sig.matches(secret, d.Body) {
		return nil, refuse(CodeBadSignature, "the signature does not match the body with the named key")
	}
	m, err := env.message()
	if err != nil {
		return nil, err
	}
	m.TenantID, m.KeyID, m.SignedAt = tenantID, sig.keyID, sig.at.UTC()
	return m, nil
}

// lookup finds the signing secret and turns the lookup's answers into codes.
func lookup(ctx context.Context, keys KeyFunc, tenantID, keyID string) ([]byte, error) {
	secret, err := keys(ctx, tenantID, keyID)
	switch {
	case errors.Is(err, ErrUnknownKey) || err == nil && len(secret) == 0:
		return nil, refuse(CodeUnknownKey, "the tenant has no active signing key with this key id (key ids are per tenant)")
	case errors.Is(err, ErrForeignKey):
		return nil, refuse(CodeTenantMismatch, "the signing key belongs to another tenant than the message's tenantid")
	case errors.Is(err, privacy.ErrNotFound):
		return nil, refuse(CodeUnknownTenant, "no tenant with the message's tenantid")
	case err != nil:
		return nil, fmt.Errorf("look up signing key %s of tenant %s: %w", keyID, tenantID, err)
	case len(secret) < sender.MinSecretBytes:
		return nil, fmt.Errorf("signing key %s of tenant %s is shorter than %d bytes", keyID, tenantID, sender.MinSecretBytes)
	}
	return secret, nil
}

// checkContentType accepts a structured-mode CloudEvent's content types, with
// an optional UTF-8 charset, and an unset content type.
func checkContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	bad := refuse(CodeContentType, "the content type must be application/cloudevents+json or application/json, charset utf-8 if any")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/cloudevents+json" && mt != "application/json" {
		return bad
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return bad
		}
	}
	return nil
}
