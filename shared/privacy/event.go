package privacy

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is the CloudEvents 1.0 JSON envelope of every message privops sends or
// receives, plus the tenantid extension. Data carries ids, never personal data.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Time            time.Time `json:"time"`
	Subject         string    `json:"subject,omitempty"`
	DataContentType string    `json:"datacontenttype,omitempty"`
	TenantID        string    `json:"tenantid"`
	// TraceParent and TraceState are the CloudEvents distributed-tracing
	// extension: the W3C trace context of the span that published the event,
	// so the consumer's span joins the producer's trace. Absent when tracing
	// is off; never personal data (random ids).
	TraceParent string          `json:"traceparent,omitempty"`
	TraceState  string          `json:"tracestate,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// Event types privops publishes internally. The version is part of the type so
// the contract can evolve.
const (
	// EventNotice asks the notify function to mail a notice about a request.
	EventNotice = "io.privops.dsr.notice.v1"
)

// NoticeData is the data of an EventNotice: which request, which notice.
type NoticeData struct {
	RequestID string `json:"requestId"`
	Notice    string `json:"notice"` // NoticeReceived, NoticeExtended, ...
}

// Notices mailed to a data subject.
const (
	NoticeVerified  = "verified"  // identity confirmed; request received (CCPA §7021(a) confirmation)
	NoticeApproved  = "approved"  // request accepted, being worked on
	NoticeDenied    = "denied"    // refused, with reasons and the right to complain (GDPR Art. 12(4))
	NoticeExtended  = "extended"  // deadline extended, with reasons (GDPR Art. 12(3))
	NoticeCancelled = "cancelled" // withdrawn
	// NoticeClarification asks the subject to clarify the request; the clock
	// may stop until they answer (UK GDPR Art. 12A).
	NoticeClarification = "clarification"
	// NoticeClarificationLapsed: no answer came within the wait, so the
	// clock runs again and the request is answered as it stands.
	NoticeClarificationLapsed = "clarification-lapsed"
)

// NewEvent builds an envelope with data marshalled to JSON.
func NewEvent(id, typ, tenantID, subject string, at time.Time, data any) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("marshal event data: %w", err)
	}
	return Event{SpecVersion: "1.0", ID: id, Source: "/privops", Type: typ, Time: at.UTC(),
		Subject: subject, DataContentType: "application/json", TenantID: tenantID, Data: b}, nil
}

// DecodeEvent parses and checks an envelope.
func DecodeEvent(body []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, Errorf(KindInvalid, "malformed-event", "message body is not a JSON CloudEvent")
	}
	if e.SpecVersion != "1.0" || e.ID == "" || e.Type == "" || e.Source == "" || e.TenantID == "" {
		return Event{}, Errorf(KindInvalid, "malformed-event", "envelope needs specversion 1.0, id, source, type and tenantid")
	}
	return e, nil
}

// Event types of the task pipeline, published to the tasks queue.
const (
	// EventTaskRun asks the task worker to run (or re-check) one task.
	EventTaskRun = "io.privops.task.run.v1"
	// EventPackage asks the task worker to build a request's export package.
	EventPackage = "io.privops.export.package.v1"
)

// TaskData is the data of an EventTaskRun or EventPackage: ids only.
type TaskData struct {
	RequestID string `json:"requestId"`
	TaskID    string `json:"taskId,omitempty"`
}

// Notices about the outcome of a request.
const (
	NoticeCompleted = "completed" // done everywhere; an export carries its download link
	NoticePartial   = "partial"   // some services failed or were held, each with its reason
	// NoticeLinkReissued carries an export's new download link (an admin reissued it).
	NoticeLinkReissued = "link-reissued"
	// NoticeResumed: work a legal hold deferred is being done now (the hold
	// was released); the outcome follows.
	NoticeResumed = "resumed"
)
