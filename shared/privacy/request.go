package privacy

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// RequestType is the right a data subject exercises.
type RequestType string

// Request types (GDPR Arts. 15-21, CCPA §§1798.100-.121, LGPD Art. 18, PIPL Arts. 44-47).
const (
	TypeAccess          RequestType = "access"           // a copy of the data (GDPR 15)
	TypeExport          RequestType = "export"           // portability (GDPR 20)
	TypeErase           RequestType = "erase"            // erasure (GDPR 17)
	TypeRectify         RequestType = "rectify"          // rectification (GDPR 16)
	TypeRestrict        RequestType = "restrict"         // restriction (GDPR 18)
	TypeLiftRestriction RequestType = "lift-restriction" // lift a restriction (GDPR 18(3))
	TypeObject          RequestType = "object"           // objection / opt-out (GDPR 21, CCPA 1798.120)
)

// RequestTypes lists every request type.
var RequestTypes = []RequestType{TypeAccess, TypeExport, TypeErase, TypeRectify, TypeRestrict, TypeLiftRestriction, TypeObject}

// Valid reports whether t is a known request type.
func (t RequestType) Valid() bool { return slices.Contains(RequestTypes, t) }

// Category is a data category a request can be limited to.
type Category string

// Data categories.
const (
	CategoryProfile    Category = "profile"
	CategoryContent    Category = "content"
	CategoryUsage      Category = "usage"
	CategoryBilling    Category = "billing"
	CategoryMarketing  Category = "marketing"
	CategorySystemLogs Category = "system-logs" // system-generated logs
)

// Categories lists every data category.
var Categories = []Category{CategoryProfile, CategoryContent, CategoryUsage, CategoryBilling, CategoryMarketing, CategorySystemLogs}

// Supports returns nil when a request of type t can cover category c, or the
// reason it cannot. System-generated logs are records of what happened: they can
// be accessed, exported and erased, but rectifying or restricting them would
// falsify the record, which the law allows a controller to refuse (GDPR Art. 16
// applies to inaccurate data, and logs accurately record events; Art. 18 restriction
// of a log is not meaningful).
func (t RequestType) Supports(c Category) error {
	if !slices.Contains(Categories, c) {
		return Errorf(KindInvalid, "invalid-category", "unknown data category %q", c)
	}
	if c == CategorySystemLogs && (t == TypeRectify || t == TypeRestrict || t == TypeLiftRestriction) {
		return Errorf(KindUnprocessable, "unsupported-for-category",
			"%s is not available for system-generated logs: they record what happened and support access, export and erase only", t)
	}
	return nil
}

// Status is where a request stands.
type Status string

// Statuses. The terminal ones carry the outcome.
const (
	StatusAwaitingVerification Status = "awaiting-verification" // one-time code mailed, not yet entered
	StatusAwaitingDecision     Status = "awaiting-decision"     // identity verified; an admin approves or denies
	StatusApproved             Status = "approved"              // approved; fan-out to services pending
	StatusInProgress           Status = "in-progress"           // tasks running at the services
	StatusCompleted            Status = "completed"             // every service done
	StatusPartiallyCompleted   Status = "partially-completed"   // some services failed or held, each with a reason
	StatusDenied               Status = "denied"                // refused with reasons (GDPR Art. 12(4))
	StatusCancelled            Status = "cancelled"             // withdrawn by the subject or an admin, or never verified
)

// Statuses lists every status.
var Statuses = []Status{StatusAwaitingVerification, StatusAwaitingDecision, StatusApproved, StatusInProgress,
	StatusCompleted, StatusPartiallyCompleted, StatusDenied, StatusCancelled}

// transitions is the request state machine.
var transitions = map[Status][]Status{
	StatusAwaitingVerification: {StatusAwaitingDecision, StatusCancelled, StatusDenied},
	StatusAwaitingDecision:     {StatusApproved, StatusDenied, StatusCancelled},
	StatusApproved:             {StatusInProgress, StatusCompleted, StatusPartiallyCompleted, StatusCancelled},
	StatusInProgress:           {StatusCompleted, StatusPartiallyCompleted, StatusCancelled},
	// An admin retry of failed tasks reopens a partially completed request.
	StatusPartiallyCompleted: {StatusInProgress},
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Terminal reports whether s is an outcome.
// A partially completed request is an outcome too, though an admin retry of
// its failed tasks can reopen it.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusPartiallyCompleted || s == StatusDenied || s == StatusCancelled
}

// CanMove reports whether the state machine allows from → to.
func CanMove(from, to Status) bool { return slices.Contains(transitions[from], to) }

// Channel is how a request came in.
type Channel string

// Channels.
const (
	ChannelPortal     Channel = "portal"
	ChannelAdmin      Channel = "admin"
	ChannelServiceBus Channel = "servicebus"
)

// Subject holds the identifiers of the data subject: the minimum needed to run
// the request, removed when its keeping period ends. It never goes to logs:
// LogValue redacts it.
type Subject struct {
	Email   string `json:"email"`
	Country string `json:"country"`          // ISO 3166-1 alpha-2 of residence
	Region  string `json:"region,omitempty"` // ISO 3166-2 subdivision code, e.g. "CA" for California
	// UserID and Phone are further identifiers some services key data by.
	UserID string `json:"userId,omitempty"`
	Phone  string `json:"phone,omitempty"`
}

// LogValue keeps the subject out of logs whatever the logger is given.
func (Subject) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// FieldChange is one correction a rectify request asks for.
type FieldChange struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Verification is the one-time code state of a portal request.
type Verification struct {
	CodeHash  string    `json:"codeHash,omitempty"` // keyed hash; never the code
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	Attempts  int       `json:"attempts"`
	Sends     int       `json:"sends"`
}

// Pause is a stopped-clock interval (UK Art. 12A: clarification requested until
// received). To is zero while the clock is stopped. Until is when the watch
// restarts a clock still stopped (no answer came); it then sets To and
// Unanswered.
type Pause struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to,omitzero"`
	Reason     string    `json:"reason"`
	Until      time.Time `json:"until,omitzero"`
	Unanswered bool      `json:"unanswered,omitempty"`
}

// Extension is a deadline extension with its reason and the notice to the subject.
type Extension struct {
	Reason    string    `json:"reason"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	NoticedAt time.Time `json:"noticedAt,omitzero"` // when the notice was sent
}

// Due is the deadline the request must meet and where it comes from.
type Due struct {
	At        time.Time `json:"at"`        // the instant by which the response is due
	Regime    string    `json:"regime"`    // the regime that produced the earliest deadline
	Rule      string    `json:"rule"`      // human-readable rule, with its source
	InitialAt time.Time `json:"initialAt"` // the first-period deadline (extension notice window)
	Extended  bool      `json:"extended"`
	Paused    bool      `json:"paused"`
}

// Decision records who approved, denied or cancelled a request, and why.
type Decision struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Request is a data subject request. One document per request; every state change
// is one write of this document guarded by its ETag.
type Request struct {
	ID       string      `json:"id"`
	TenantID string      `json:"tenantId"`
	Type     RequestType `json:"type"`
	Status   Status      `json:"status"`
	Channel  Channel     `json:"channel"`
	// SubmittedBy is who submitted on the subject's behalf: the admin, or
	// "system:<source>" for a tenant's system over Service Bus ("" for the subject).
	SubmittedBy string `json:"submittedBy,omitempty"`
	// Details is the submitter's note for the admins (may hold personal data);
	// ExternalRef the sending system's own reference (no personal data).
	Details     string `json:"details,omitempty"`
	ExternalRef string `json:"externalRef,omitempty"`
	// IdempotencyKeyHash lets a retried submission return the same request.
	IdempotencyKeyHash string `json:"idempotencyKeyHash,omitempty"`
	// BodyHash is the hash of the submitted body, to refuse a reused idempotency key.
	BodyHash string `json:"bodyHash,omitempty"`

	Subject     Subject       `json:"subject"`
	SubjectHash string        `json:"subjectHash"` // keyed hash; what the audit refers to
	Categories  []Category    `json:"categories,omitempty"`
	Changes     []FieldChange `json:"changes,omitempty"`  // rectify only
	Purposes    []string      `json:"purposes,omitempty"` // restrict, lift-restriction, object
	// Language is the language the subject is answered in (the code mail and
	// every notice): one of Languages; "" (older requests) is English.
	Language string `json:"language,omitempty"`

	Verification Verification `json:"verification"`

	ReceivedAt         time.Time  `json:"receivedAt"`
	IdentityVerifiedAt time.Time  `json:"identityVerifiedAt,omitzero"`
	Pauses             []Pause    `json:"pauses,omitempty"`
	Extension          *Extension `json:"extension,omitempty"`
	Due                Due        `json:"due"`
	Decision           *Decision  `json:"decision,omitempty"`

	// Tasks are the per-service actions the request fanned out to on approval.
	Tasks []Task `json:"tasks,omitempty"`
	// GraceUntil ends an erasure's cancellable grace period.
	GraceUntil time.Time `json:"graceUntil,omitzero"`
	// Package is the export package, once built.
	Package *Package `json:"package,omitempty"`
	// Certificate is the sealed certificate of the request's outcome, issued
	// in the write that completed it and served byte for byte on every read.
	// A string, not bytes: JSON keeps a string exact at a fraction of base64's size.
	Certificate string `json:"certificate,omitempty"`
	// WakeAt is when the reconciler re-drives a task nothing else moved (see Task.Wake).
	WakeAt time.Time `json:"wakeAt,omitzero"`
	// Round counts the task rounds: an admin retry after a partial completion
	// starts the next one, and each round completes exactly once.
	Round int `json:"round,omitempty"`

	// Outbox holds events recorded with this state change and not yet published.
	// A crash after the write leaves them here for the deadline watch to publish.
	Outbox []OutboxEvent `json:"outbox,omitempty"`
	// Notices records the notice events already mailed, so a redelivered event
	// does not mail twice.
	Notices []SentNotice `json:"notices,omitempty"`
	// AdminOps records the admin changes made with an Idempotency-Key, in
	// the change's own write, so a retried call gets the first answer.
	AdminOps []IdempotentOp `json:"adminOps,omitempty"`

	// StrippedAt is when a retention sweep removed the closed request's
	// personal data (subject, note, rectify values), keeping the stub.
	StrippedAt time.Time `json:"strippedAt,omitzero"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	ETag      string    `json:"-"`
}

// Move changes the status if the state machine allows it.
func (r *Request) Move(to Status) error {
	if !CanMove(r.Status, to) {
		return Errorf(KindConflict, "invalid-transition", "a request that is %s cannot become %s", r.Status, to)
	}
	r.Status = to
	return nil
}

// OpenPause returns the pause still running, if any.
func (r *Request) OpenPause() *Pause {
	for i := range r.Pauses {
		if r.Pauses[i].To.IsZero() {
			return &r.Pauses[i]
		}
	}
	return nil
}

// NoticeSent reports whether the notice for event id was already mailed.
func (r *Request) NoticeSent(eventID string) bool {
	return slices.ContainsFunc(r.Notices, func(n SentNotice) bool { return n.EventID == eventID })
}

// OutboxEvent is recorded in the same document write as the state change it
// announces, then carried out: an audit entry appended (idempotent by its ID) or
// a message published (deduplicated by its ID). Exactly one of Audit and Message
// is set. A crash in between leaves it here for the deadline watch to finish.
type OutboxEvent struct {
	ID      string      `json:"id"`
	At      time.Time   `json:"at"`
	Audit   *AuditEvent `json:"audit,omitempty"`
	Queue   string      `json:"queue,omitempty"`
	Message *Event      `json:"message,omitempty"`
	// NotBefore schedules the message's delivery (a retry's backoff, an
	// erasure's grace period); zero delivers at once.
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// SentNotice records a mailed notice.
type SentNotice struct {
	EventID string    `json:"eventId"`
	Type    string    `json:"type"`
	SentAt  time.Time `json:"sentAt"`
}

// RequestFilter selects requests of one tenant. Cursor is the opaque value a
// previous page returned.
type RequestFilter struct {
	Status Status
	Type   RequestType
	Limit  int
	Cursor string
}

// RequestPage is one page of requests, newest first. Next is "" on the last page.
type RequestPage struct {
	Requests []*Request
	Next     string
}

func (r *Request) String() string { return fmt.Sprintf("request %s/%s", r.TenantID, r.ID) }

// IdempotentOp is one admin change made with an Idempotency-Key: a retry
// with the same key and the same change answers what the first call did; the
// same key with another change is refused. Only keyed hashes are kept.
type IdempotentOp struct {
	KeyHash string    `json:"keyHash"` // keyed hash of the tenant, the admin and the key
	Hash    string    `json:"hash"`    // hash of the operation and its parameters
	Ref     string    `json:"ref,omitempty"`
	At      time.Time `json:"at"`
}
