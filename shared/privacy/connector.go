package privacy

import (
	"context"
	"io"
	"time"
)

// Action is what a task asks one service to do about one subject.
type Action string

// Connector actions. Lookup is not a request type: it re-queries a service after
// an erasure to prove the subject is gone.
const (
	ActionExport          Action = "export"           // return the subject's data (access and portability)
	ActionErase           Action = "erase"            // hard-delete the subject's data
	ActionRectify         Action = "rectify"          // apply field changes
	ActionRestrict        Action = "restrict"         // stop processing for the given purposes
	ActionLiftRestriction Action = "lift-restriction" // lift a restriction
	ActionObject          Action = "object"           // stop processing for direct marketing / sale (opt-out)
	ActionLookup          Action = "lookup"           // does the service still hold data about the subject?
)

// Actions lists every action.
var Actions = []Action{ActionExport, ActionErase, ActionRectify, ActionRestrict, ActionLiftRestriction, ActionObject, ActionLookup}

// Outcome is what a connector reports for a call.
type Outcome string

// Connector outcomes.
const (
	OutcomeDone     Outcome = "done"     // the action was carried out (for export: the data was saved)
	OutcomeNoData   Outcome = "no-data"  // the service holds nothing about the subject (a success, zero items)
	OutcomeHeld     Outcome = "held"     // the service keeps the data under a legal hold; Reason says why
	OutcomeAccepted Outcome = "accepted" // the service will answer later (signed callback, reply message or admin)
)

// ConnectorCall is one action for one service. It carries the subject's
// identifiers the service declared it keys its data by, and nothing else.
type ConnectorCall struct {
	TenantID  string
	RequestID string
	TaskID    string
	Action    Action
	// Identifiers maps an identifier kind ("email", "user-id", "phone") to the
	// subject's value. Personal data: never log it.
	Identifiers map[string]string
	Categories  []Category
	Changes     []FieldChange // rectify
	Purposes    []string      // restrict, lift-restriction, object
	Deadline    time.Time     // the request's due date
	// CallbackURL is where a service that answers later posts its signed result.
	CallbackURL string
	// Attempt counts the calls of this task (1 on the first) and Round the
	// admin's retry rounds of its request (0 at first): a queue connector
	// names each call's message by them, so a resend is not dropped as a
	// duplicate of the first while the same call sent twice still is.
	Attempt, Round int
	// AllowPrivate is the tenant's AllowPrivateConnectors: its services may
	// live on private addresses.
	AllowPrivate bool
	// Save stores the exported data of an export call. The connector streams the
	// service's JSON answer ({"items":[...]}) into it and never holds it whole in
	// memory. Nil for other actions.
	Save func(ctx context.Context, r io.Reader) (int64, error)
}

// ConnectorResult is a connector's answer.
type ConnectorResult struct {
	Outcome Outcome
	Items   int    // items exported, erased or changed, when the service says
	Reason  string // why held; free text from the tenant's own service, no personal data expected
	// Present answers a lookup: true if the service still holds data.
	Present bool
	// Hold is the tenant's legal hold that kept the data, when the worker
	// (not the service) held the task.
	Hold *Hold
}

// Connector runs actions against one kind of service. Errors: an error wrapping
// ErrUnavailable is transient (timeout, 5xx, 429): the task is retried with
// backoff inside the deadline budget. Any other error is permanent: the task
// fails with the error's text as its reason, so that text must never contain
// personal data.
type Connector interface {
	Run(ctx context.Context, svc *Service, call ConnectorCall) (ConnectorResult, error)
}

// Blobs is the blob port: export packages, per-task export files and evidence.
// Names are slash-separated paths that always start with the tenant id.
type Blobs interface {
	// Put streams r into the blob name, replacing any earlier one. Readers see
	// either the old blob or the whole new one, never a part. It returns the
	// number of bytes written. Memory stays bounded whatever the size.
	Put(ctx context.Context, name string, r io.Reader) (int64, error)
	// Open returns a reader of the blob and its size. ErrNotFound if absent.
	Open(ctx context.Context, name string) (io.ReadCloser, int64, error)
	// Delete removes a blob; deleting an absent blob is not an error.
	Delete(ctx context.Context, name string) error
}

// DataItems is the tenant data containers the built-in cosmos connector
// searches: JSON items of a tenant, in a named container, found by the value at
// an identity path ("/contact/email"). On Azure they are the tenant's Cosmos DB
// containers (partition key tenantId); standalone, tables of the embedded store.
type DataItems interface {
	// QueryItems calls fn with every item of the tenant in container whose
	// value at path equals value, streaming (never all in memory).
	QueryItems(ctx context.Context, tenantID, container, path, value string, fn func(item []byte) error) error
	// DeleteItems deletes those items and returns how many it deleted.
	DeleteItems(ctx context.Context, tenantID, container, path, value string) (int, error)
	// PutItem stores an item (its "id" property names it; same id replaces).
	PutItem(ctx context.Context, tenantID, container string, item []byte) error
}

// ActionPurge is not a task's action: a service lists it among its actions to
// say it answers retention purge calls (Purger), which delete what of a
// retention category is past a cutoff and answer with counts.
const ActionPurge Action = "purge"

// ActionPurgeDryRun is not a task's action either: a service lists it
// (besides purge) to say it honours a purge's dryRun flag, counting what it
// would purge and deleting nothing. A preview sends a dry run only to such a
// service: one that ignored the flag would delete.
const ActionPurgeDryRun Action = "purge-dry-run"

// ServiceActions lists what a service may declare it supports: every task
// action, purge and purge-dry-run.
var ServiceActions = append(append([]Action(nil), Actions...), ActionPurge, ActionPurgeDryRun)

// PurgeCall asks one service to delete its data of a retention category whose
// event (From) is before Cutoff. It names no subject and carries no personal
// data.
type PurgeCall struct {
	TenantID string
	// PurgeID names the purge (the run and the policy): the service's
	// Idempotency-Key is built from it, the same on every retry.
	PurgeID  string
	PolicyID string
	Category string    // a retention category ("customer", "payment", …)
	From     string    // the event the age counts from ("created", …)
	Cutoff   time.Time // data whose event is before it goes
	// AllowPrivate is the tenant's AllowPrivateConnectors.
	AllowPrivate bool
	// RunID names the run (or preview) the purge belongs to; a Service Bus
	// service's answer names it and PolicyID back.
	RunID string
	// DryRun asks the service for the counts of what it would purge,
	// deleting nothing (a preview).
	DryRun bool
	// AnswerBy is when the run stops waiting for a Service Bus service's
	// answer (reported no-answer then).
	AnswerBy time.Time
	// Exclusions are the subjects of active subject holds the service must
	// spare, as salted hashes (nil: none).
	Exclusions *PurgeExclusions
	// SigningKeys are the service's active secrets: a Service Bus purge
	// command is signed with the command key of each.
	SigningKeys []ServiceSecret
}

// PurgeExclusions name the held subjects a purge must spare without naming
// them: a fresh random Salt per purge command and, per held subject,
// hex(HMAC-SHA256(Salt, NormalizeEmail(email))), sorted.
type PurgeExclusions struct {
	Salt   []byte
	Hashes []string
}

// PurgeResult is a service's answer to a purge: counts, never contents.
type PurgeResult struct {
	// NotSupported: the service answered that it has no purge (404, 405,
	// 501); nothing was deleted.
	NotSupported bool
	Purged       int64 // items deleted
	Kept         int64 // items past the cutoff the service keeps for its own legal reasons
	KeptByHold   int64 // items past the cutoff spared because their subject is excluded (held)
	// Sent: the command went to the service's queue and the counts come
	// later, as an answer over the inbound queue (a Service Bus service).
	Sent bool
}

// Purger runs retention purges at one kind of service. Errors: an error
// wrapping ErrUnavailable is transient (the purge is called again with the
// same Idempotency-Key); any other is permanent and its text, which is
// reported, never holds personal data.
type Purger interface {
	Purge(ctx context.Context, svc *Service, call PurgeCall) (PurgeResult, error)
}
