package sender

import (
	"errors"
	"slices"
)

// Request types: the right the data subject exercises (GDPR Arts. 15-21,
// CCPA §§1798.100-.121, LGPD Art. 18, PIPL Arts. 44-47).
const (
	RequestAccess          = "access"           // a copy of the data (GDPR 15)
	RequestExport          = "export"           // portability (GDPR 20)
	RequestErase           = "erase"            // erasure (GDPR 17)
	RequestRectify         = "rectify"          // rectification (GDPR 16); needs Changes
	RequestRestrict        = "restrict"         // restriction (GDPR 18); Purposes allowed
	RequestLiftRestriction = "lift-restriction" // lift a restriction (GDPR 18(3)); Purposes allowed
	RequestObject          = "object"           // objection / opt-out (GDPR 21, CCPA 1798.120); Purposes allowed
)

// RequestTypes lists every request type.
var RequestTypes = []string{RequestAccess, RequestExport, RequestErase, RequestRectify, RequestRestrict, RequestLiftRestriction, RequestObject}

// Data categories a request can be limited to. System-generated logs support
// access, export and erase only.
const (
	CategoryProfile    = "profile"
	CategoryContent    = "content"
	CategoryUsage      = "usage"
	CategoryBilling    = "billing"
	CategoryMarketing  = "marketing"
	CategorySystemLogs = "system-logs"
)

// Categories lists every data category.
var Categories = []string{CategoryProfile, CategoryContent, CategoryUsage, CategoryBilling, CategoryMarketing, CategorySystemLogs}

// Outcomes of a completed task.
const (
	OutcomeDone   = "done"    // carried out; Items may say how many items it touched
	OutcomeNoData = "no-data" // the service holds nothing about the subject (a success, zero items)
	OutcomeHeld   = "held"    // a legal hold keeps the data; Reason says why (GDPR Art. 17(3))
)

// Outcomes lists every outcome of a completed task.
var Outcomes = []string{OutcomeDone, OutcomeNoData, OutcomeHeld}

// DSRRequested is the data of a TypeDSRRequested event: a data subject
// request the tenant's system opens on the subject's behalf (an HR system
// erasing a leaver). privops records it as a request received over Service Bus
// and runs it as any other request of the tenant.
type DSRRequested struct {
	Type    string  `json:"type"` // one of RequestTypes
	Subject Subject `json:"subject"`
	// Categories limits the request to these data categories; empty means all.
	Categories []string `json:"categories,omitempty"`
	// Changes are the corrections of a rectify request (and only of one).
	Changes []Change `json:"changes,omitempty"`
	// Purposes name what a restrict, lift-restriction or object request
	// covers ("marketing", "analytics", ...); empty means every purpose.
	Purposes []string `json:"purposes,omitempty"`
	// Details is a note for the tenant's privacy admins (at most 4000 bytes).
	Details string `json:"details,omitempty"`
	// ExternalRef is the sender's own reference, such as a ticket number (at
	// most 128 printable ASCII characters). It must not contain personal data.
	ExternalRef string `json:"externalRef,omitempty"`
}

// Subject identifies the data subject. Email and Country are required.
type Subject struct {
	Email   string `json:"email"`            // a plain address: name@example.com
	Country string `json:"country"`          // ISO 3166-1 alpha-2 of residence, upper case: "DE"
	Region  string `json:"region,omitempty"` // ISO 3166-2 subdivision, upper case: "CA" for California
	UserID  string `json:"userId,omitempty"` // the tenant's user id, if services key data by it
	Phone   string `json:"phone,omitempty"`  // E.164: "+4915123456789"
}

// Change is one correction a rectify request asks for.
type Change struct {
	Field string `json:"field"`
	Value string `json:"value"` // at most 1000 bytes; may be empty
}

// TaskCompleted is the data of a TypeTaskCompleted event: a service reports
// the result of a task privops sent it (a servicebus connector's task).
type TaskCompleted struct {
	RequestID string `json:"requestId"`
	TaskID    string `json:"taskId"`
	Outcome   string `json:"outcome"`          // one of Outcomes
	Items     int    `json:"items,omitempty"`  // done: how many items; no-data and held: 0
	Reason    string `json:"reason,omitempty"` // held only, and then required: why (at most 2000 bytes)
	Note      string `json:"note,omitempty"`   // what was done, for the record (at most 2000 bytes)
}

// TaskFailed is the data of a TypeTaskFailed event: a service could not carry
// out a task.
type TaskFailed struct {
	RequestID string `json:"requestId"`
	TaskID    string `json:"taskId"`
	Reason    string `json:"reason"` // why, for the tenant's admins (at most 500 bytes, no personal data)
	// Permanent says retrying cannot help (the subject's account is locked by
	// policy, the action is not supported). A transient failure may be retried
	// by privops within the request's deadline.
	Permanent bool `json:"permanent"`
}

// check catches the mistakes that do not need privops' rules: a missing
// required field, an unknown type. privops checks the rest (formats, lengths,
// combinations) and refuses the message if they fail.
func (d DSRRequested) check() error {
	switch {
	case !slices.Contains(RequestTypes, d.Type):
		return errors.New("sender: data.type must be one of RequestTypes")
	case d.Subject.Email == "":
		return errors.New("sender: data.subject.email is required")
	case d.Subject.Country == "":
		return errors.New("sender: data.subject.country is required")
	case d.Type == RequestRectify && len(d.Changes) == 0:
		return errors.New("sender: a rectify request needs data.changes")
	}
	for _, c := range d.Categories {
		if !slices.Contains(Categories, c) {
			return errors.New("sender: data.categories must be from Categories")
		}
	}
	return nil
}

func (d TaskCompleted) check() error {
	switch {
	case d.RequestID == "":
		return errors.New("sender: data.requestId is required")
	case d.TaskID == "":
		return errors.New("sender: data.taskId is required")
	case !slices.Contains(Outcomes, d.Outcome):
		return errors.New("sender: data.outcome must be one of Outcomes")
	case d.Outcome == OutcomeHeld && d.Reason == "":
		return errors.New("sender: a held outcome needs data.reason")
	}
	return nil
}

func (d TaskFailed) check() error {
	switch {
	case d.RequestID == "":
		return errors.New("sender: data.requestId is required")
	case d.TaskID == "":
		return errors.New("sender: data.taskId is required")
	case d.Reason == "":
		return errors.New("sender: data.reason is required")
	}
	return nil
}

// BreachReported is the data of a TypeBreachReported event: what a
// sub-processor knows of a breach, as GDPR Art. 33(3) lists it. Free text
// must not contain personal data.
type BreachReported struct {
	DetectedAt    string   `json:"detectedAt"`             // RFC 3339
	AwareAt       string   `json:"awareAt"`                // RFC 3339; not before detectedAt
	DeterminedAt  string   `json:"determinedAt,omitempty"` // RFC 3339; the US "determination"
	Jurisdictions []string `json:"jurisdictions"`          // where affected data subjects reside: eu-gdpr, uk-gdpr, uk-pecr, cn, br-lgpd, us-ca, us-tx, us-ny, us-fl, us-co
	Grade         string   `json:"grade,omitempty"`        // CAC grade, required with cn: general, relatively-major, major, especially-major
	Title         string   `json:"title"`
	Nature        string   `json:"nature"`
	Categories    []string `json:"categories"`
	SubjectGroups []string `json:"subjectGroups,omitempty"`
	// Approximate numbers of data subjects and of records.
	SubjectsApprox int64            `json:"subjectsApprox"`
	RecordsApprox  int64            `json:"recordsApprox"`
	Consequences   string           `json:"consequences"`
	Measures       string           `json:"measures"`
	Contact        string           `json:"contact"`
	Risk           string           `json:"risk"` // none, low, high
	Cause          string           `json:"cause,omitempty"`
	Residents      map[string]int64 `json:"residents,omitempty"` // per US jurisdiction: {"us-tx": 300}
}

func (d BreachReported) check() error {
	switch {
	case d.DetectedAt == "" || d.AwareAt == "":
		return errors.New("sender: data.detectedAt and data.awareAt are required")
	case len(d.Jurisdictions) == 0:
		return errors.New("sender: data.jurisdictions is required")
	case d.Title == "" || d.Nature == "" || len(d.Categories) == 0:
		return errors.New("sender: data.title, data.nature and data.categories are required")
	case d.Risk == "":
		return errors.New("sender: data.risk is required")
	}
	return nil
}
