package sender

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Event types, versioned by their suffix: a change that old receivers or old
// senders would misread gets a new version.
const (
	TypeDSRRequested  = "com.privops.dsr.requested.v1"
	TypeTaskCompleted = "com.privops.dsr.task.completed.v1"
	TypeTaskFailed    = "com.privops.dsr.task.failed.v1"
	// TypeBreachReported: a sub-processor reports a personal data breach
	// touching the signing tenant's data.
	TypeBreachReported = "com.privops.breach.reported.v1"
	// TypePurgeCompleted: a Service Bus service answers a retention purge
	// command privops sent to its queue, with counts (see PurgeCommand).
	TypePurgeCompleted = "com.privops.purge.completed.v1"
)

// Types lists every event type privops accepts.
var Types = []string{TypeDSRRequested, TypeTaskCompleted, TypeTaskFailed, TypeBreachReported, TypePurgeCompleted}

const (
	// SpecVersion is the CloudEvents version of the envelope.
	SpecVersion = "1.0"
	// DataContentType is the envelope's datacontenttype: data is a JSON object.
	DataContentType = "application/json"
	// ContentType is the broker message's content type: a CloudEvent in
	// structured mode (CloudEvents AMQP binding §3.2). privops also accepts
	// application/json and an unset content type.
	ContentType = "application/cloudevents+json; charset=utf-8"
	// MaxBodyBytes bounds a message body (the Service Bus standard tier limit).
	MaxBodyBytes = 256 << 10
)

// Event is the CloudEvents 1.0 envelope of a message, plus the tenantid
// extension. The constructors fill it in; a caller may then set Subject,
// Time or ID (for example to reuse its own unique id), before Message.
type Event struct {
	SpecVersion string `json:"specversion"`
	// ID is unique per source: the constructors set a random UUID.
	ID string `json:"id"`
	// Source is a URI reference naming the sending system, such as
	// "//hr.acme.example/leavers" or "/services/crm".
	Source string `json:"source"`
	Type   string `json:"type"`
	// Time is when the occurrence happened; zero means the time Message is
	// called with.
	Time time.Time `json:"time"`
	// Subject is optional; for task events the constructors set the request id.
	// It must not contain personal data.
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	TenantID        string          `json:"tenantid"`
	Data            json.RawMessage `json:"data"`
}

// NewDSRRequested returns an event asking privops to open a data subject
// request for the tenant. It fails if a required field is missing.
func NewDSRRequested(tenantID, source string, data DSRRequested) (*Event, error) {
	if err := data.check(); err != nil {
		return nil, err
	}
	return newEvent(tenantID, source, TypeDSRRequested, "", data)
}

// NewTaskCompleted returns an event reporting that a task is done. Its
// subject is the request id.
func NewTaskCompleted(tenantID, source string, data TaskCompleted) (*Event, error) {
	if err := data.check(); err != nil {
		return nil, err
	}
	return newEvent(tenantID, source, TypeTaskCompleted, data.RequestID, data)
}

// NewTaskFailed returns an event reporting that a task failed. Its subject is
// the request id.
func NewTaskFailed(tenantID, source string, data TaskFailed) (*Event, error) {
	if err := data.check(); err != nil {
		return nil, err
	}
	return newEvent(tenantID, source, TypeTaskFailed, data.RequestID, data)
}

// NewBreachReported returns an event reporting a personal data breach that
// touches the tenant's data; privops registers it as one incident per
// (tenant, source, id), so a resend is the same incident.
func NewBreachReported(tenantID, source string, data BreachReported) (*Event, error) {
	if err := data.check(); err != nil {
		return nil, err
	}
	return newEvent(tenantID, source, TypeBreachReported, "", data)
}

func newEvent(tenantID, source, typ, subject string, data any) (*Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("sender: marshal data: %w", err)
	}
	e := &Event{SpecVersion: SpecVersion, ID: NewID(), Source: source, Type: typ, Subject: subject,
		DataContentType: DataContentType, TenantID: tenantID, Data: b}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

// Message is what to hand to the broker: the body, its content type, the
// broker message id and the application properties (Service Bus) or message
// attributes (SQS, as String attributes).
type Message struct {
	Body        []byte
	ContentType string
	// MessageID is the event id, so the broker's duplicate detection drops a
	// resend of the same event.
	MessageID  string
	Properties map[string]string // SignatureProperty
}

// Message serialises the event and signs it with key at now. An event whose
// Time is zero gets now. The event itself is not changed, so calling Message
// again (to retry a send) gives the same id.
func (e *Event) Message(key Key, now time.Time) (Message, error) {
	if err := key.check(); err != nil {
		return Message{}, err
	}
	if err := e.check(); err != nil {
		return Message{}, err
	}
	c := *e
	if c.Time.IsZero() {
		c.Time = now
	}
	c.Time = c.Time.UTC()
	body, err := json.Marshal(c)
	if err != nil {
		return Message{}, fmt.Errorf("sender: marshal event: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return Message{}, fmt.Errorf("sender: the message is %d bytes, more than %d", len(body), MaxBodyBytes)
	}
	return Message{
		Body:        body,
		ContentType: ContentType,
		MessageID:   c.ID,
		Properties:  map[string]string{SignatureProperty: Sign(key, body, now)},
	}, nil
}

// check catches a malformed envelope before it is sent.
func (e *Event) check() error {
	switch {
	case e.SpecVersion != SpecVersion:
		return errors.New("sender: specversion must be " + SpecVersion)
	case !printable(e.ID, 128):
		return errors.New("sender: id must be 1-128 printable ASCII characters without spaces")
	case e.Source == "" || len(e.Source) > 256:
		return errors.New("sender: source must be a URI reference of 1-256 characters")
	case !slices.Contains(Types, e.Type):
		return errors.New("sender: type must be one of Types")
	case e.Subject != "" && !printable(e.Subject, 128):
		return errors.New("sender: subject must be at most 128 printable ASCII characters without spaces")
	case e.DataContentType != DataContentType:
		return errors.New("sender: datacontenttype must be " + DataContentType)
	case !validTenantID(e.TenantID):
		return errors.New("sender: tenantid must be 3-40 characters of a-z, 0-9 and '-', starting with a letter")
	case len(e.Data) == 0 || e.Data[0] != '{':
		return errors.New("sender: data must be a JSON object")
	}
	return nil
}

// NewID returns a random (version 4) UUID, the default event id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// validTenantID reports whether id is 3 to 40 of a-z, 0-9 and '-', starting
// with a letter: privops' tenant ids.
func validTenantID(id string) bool {
	if len(id) < 3 || len(id) > 40 || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// printable reports whether s is 1 to max ASCII characters from '!' to '~'.
func printable(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}
