package breach

import (
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Notice is what one affected tenant (the controller) is told of an
// incident, stored in the tenant's partition under the incident's id. It
// holds a copy of the incident's facts as of each version sent, never the
// other tenants affected.
type Notice struct {
	TenantID   string `json:"tenantId"`
	ID         string `json:"id"` // the incident id
	IncidentID string `json:"incidentId"`
	// Version is the latest report version this tenant is told of.
	Version int `json:"version"`
	// The incident as the tenant sees it.
	DetectedAt    time.Time `json:"detectedAt"`
	AwareAt       time.Time `json:"awareAt"` // the processor's awareness
	DeterminedAt  time.Time `json:"determinedAt"`
	Jurisdictions []string  `json:"jurisdictions"`
	Grade         string    `json:"grade,omitempty"`
	Facts         Facts     `json:"facts"`
	Reports       []Report  `json:"reports"`
	Status        string    `json:"status"`
	// NotifiedAt is when the first notice reached a contact (mail accepted
	// or webhook answered 2xx): the controller's "became aware" (EDPB: a
	// controller is aware once its processor has informed it).
	NotifiedAt time.Time `json:"notifiedAt,omitzero"`
	// Acknowledged: when, by whom (admin:<sub>, or link:<contact role>) and through which channel.
	AcknowledgedAt time.Time `json:"acknowledgedAt,omitzero"`
	AcknowledgedBy string    `json:"acknowledgedBy,omitempty"`
	AckVersion     int       `json:"ackVersion,omitempty"`
	// Met records when the tenant met one of its clocks (by clock id), as it
	// told privops; the authority report shows it.
	Met map[string]time.Time `json:"met,omitempty"`
	// Deliveries records every mail and webhook attempt; Escalations every
	// escalation the watch made, once per (clock, level).
	Deliveries  []Delivery   `json:"deliveries"`
	Escalations []Escalation `json:"escalations"`
	// Subject notification (GDPR Art. 34): approved by an admin or by the
	// tenant's policy for high-risk incidents.
	SubjectApproved   bool      `json:"subjectApproved"`
	SubjectApprovedAt time.Time `json:"subjectApprovedAt,omitzero"`
	SubjectApprovedBy string    `json:"subjectApprovedBy,omitempty"`
	// Outbox: sends still to make, audit events still to append.
	Pending      []Send               `json:"pending,omitempty"`
	PendingAudit []privacy.AuditEvent `json:"pendingAudit,omitempty"`
	// AttentionAt is when the watch should next look at the notice: the
	// outbox's lease, or the next escalation point of a running clock.
	AttentionAt time.Time `json:"attentionAt,omitzero"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// StrippedAt is when a retention sweep (a breach-records policy) removed
	// the notice's personal data and kept its documentation (Strip).
	StrippedAt time.Time `json:"strippedAt,omitzero"`
	ETag       string    `json:"-"`
}

// Send is one notice to deliver: to the contacts of Role by Channel, for
// report Version, for Reason (notice, reminder, escalation, overdue).
type Send struct {
	Key     string `json:"key"` // unique per notice: the mail's Message-ID and the dedupe mark
	Version int    `json:"version"`
	Channel string `json:"channel"` // ChannelMail or ChannelWebhook
	Role    string `json:"role"`    // privacy.ContactPrimary or ContactSecondary (mail)
	Reason  string `json:"reason"`
}

// Channels and send reasons.
const (
	ChannelMail    = "mail"
	ChannelWebhook = "webhook"

	ReasonNotice     = "notice"     // the first notice of a version
	ReasonReminder   = "reminder"   // a clock is half run and no acknowledgement
	ReasonEscalation = "escalation" // three quarters run: the secondary contacts
	ReasonOverdue    = "overdue"    // the clock ended unacknowledged
	ReasonBounce     = "bounce"     // a primary address bounced: the secondaries
)

// Delivery is one attempt at a Send, to one address (kept as a role and a
// keyed hash in audit; the address itself is the tenant's own role mailbox).
type Delivery struct {
	Key     string    `json:"key"`
	Channel string    `json:"channel"`
	Role    string    `json:"role,omitempty"`
	To      string    `json:"to,omitempty"` // the contact address (a role mailbox) or the webhook host
	Version int       `json:"version"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
	Status  string    `json:"status"` // DeliverySent, DeliveryBounced, DeliveryFailed, DeliveryNoContact
	Detail  string    `json:"detail,omitempty"`
	// SinceAware is the time from the processor's awareness to this delivery.
	SinceAware string `json:"sinceAware"`
}

// Delivery statuses.
const (
	DeliverySent      = "sent"
	DeliveryBounced   = "bounced"    // the mail server refused the address: recorded and escalated
	DeliveryFailed    = "failed"     // the webhook refused or failed
	DeliveryNoContact = "no-contact" // the tenant registered no contact of the role
)

// Escalation is one step the watch took as a clock neared its end.
type Escalation struct {
	Clock  string    `json:"clock"`
	Level  string    `json:"level"` // ReasonReminder, ReasonEscalation, ReasonOverdue, ReasonBounce
	At     time.Time `json:"at"`
	DueAt  time.Time `json:"dueAt,omitzero"`
	Action string    `json:"action"` // what was done
}

// SubjectNotice is what the data-subject fan-out (package breachsend) sends:
// the incident's notice in plain language (GDPR Art. 34(2): the contact
// point, likely consequences and measures), by language tag ("en", "zh-CN"),
// and whether the tenant approved sending it.
type SubjectNotice struct {
	IncidentID string
	Version    int
	Approved   bool
	ApprovedAt time.Time
	Subject    map[string]string
	Text       map[string]string
}

// escalated reports whether the notice already escalated clock at level.
func (n *Notice) escalated(clock, level string) bool {
	for _, e := range n.Escalations {
		if e.Clock == clock && e.Level == level {
			return true
		}
	}
	return false
}

// sent reports whether the send with key was delivered or given up.
func (n *Notice) delivered(key string) bool {
	for _, d := range n.Deliveries {
		if d.Key == key {
			return true
		}
	}
	return false
}

// deliveredAt returns when version v first reached a contact (zero if not yet).
func (n *Notice) deliveredAt(v int) time.Time {
	for _, d := range n.Deliveries {
		if d.Version == v && d.Status == DeliverySent {
			return d.At
		}
	}
	return time.Time{}
}
