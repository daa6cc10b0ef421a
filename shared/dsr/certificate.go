package dsr

import (
	"fmt"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Certificate is the proof of an erasure (or of any request's outcome): every
// service, what was done, when, and how it was verified. It names the subject
// only by the keyed hash, so it can be kept after the erasure.
type Certificate struct {
	Format      string            `json:"format"` // "privops-certificate/1"
	TenantID    string            `json:"tenantId"`
	RequestID   string            `json:"requestId"`
	Type        string            `json:"type"`
	Status      string            `json:"status"`
	SubjectHash string            `json:"subjectHash"`
	ReceivedAt  time.Time         `json:"receivedAt"`
	ApprovedAt  time.Time         `json:"approvedAt,omitzero"`
	GraceUntil  time.Time         `json:"graceUntil,omitzero"`
	Services    []CertificateLine `json:"services"`
	IssuedAt    time.Time         `json:"issuedAt"`
}

// CertificateLine is one service's part of a certificate.
type CertificateLine struct {
	Service      string    `json:"service"`
	Name         string    `json:"name"`
	Action       string    `json:"action"`
	Status       string    `json:"status"`
	Items        int       `json:"items"`
	Reason       string    `json:"reason,omitempty"`
	Verification string    `json:"verification,omitempty"`
	FinishedAt   time.Time `json:"finishedAt,omitzero"`
	By           string    `json:"by,omitempty"`
	Note         string    `json:"note,omitempty"`
}

// CertificateOf builds a request's certificate, issued now (unsigned, not
// stored: Certificate returns the one issued at completion). Only an ended
// request has one.
func (s *Service) CertificateOf(r *privacy.Request) (*Certificate, error) {
	return s.certificateOf(r, s.now())
}

func (s *Service) certificateOf(r *privacy.Request, now time.Time) (*Certificate, error) {
	if r.Status != privacy.StatusCompleted && r.Status != privacy.StatusPartiallyCompleted {
		return nil, privacy.Errorf(privacy.KindConflict, "not-complete", "a certificate is issued once the request is completed")
	}
	c := &Certificate{Format: "privops-certificate/1", TenantID: r.TenantID, RequestID: r.ID, Type: string(r.Type),
		Status: string(r.Status), SubjectHash: r.SubjectHash, ReceivedAt: r.ReceivedAt, GraceUntil: r.GraceUntil,
		Services: []CertificateLine{}, IssuedAt: now}
	if r.Decision != nil {
		c.ApprovedAt = r.Decision.At
	}
	for _, t := range r.Tasks {
		c.Services = append(c.Services, CertificateLine{Service: t.Service, Name: t.ServiceName, Action: string(t.Action),
			Status: string(t.Status), Items: t.Items, Reason: t.Reason, Verification: t.Verification, FinishedAt: t.FinishedAt,
			By: t.By, Note: t.Note})
	}
	return c, nil
}

// Text renders the certificate for people.
func (c *Certificate) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CERTIFICATE OF %s\n\n", strings.ToUpper(c.Type))
	fmt.Fprintf(&b, "Tenant:        %s\nRequest:       %s\nOutcome:       %s\nSubject:       keyed hash %s\n", c.TenantID, c.RequestID, c.Status, c.SubjectHash)
	fmt.Fprintf(&b, "Received:      %s\n", c.ReceivedAt.Format(time.RFC3339))
	if !c.ApprovedAt.IsZero() {
		fmt.Fprintf(&b, "Approved:      %s\n", c.ApprovedAt.Format(time.RFC3339))
	}
	if !c.GraceUntil.IsZero() {
		fmt.Fprintf(&b, "Grace period:  until %s (services restricted the subject meanwhile)\n", c.GraceUntil.Format(time.RFC3339))
	}
	b.WriteString("\nServices:\n")
	for _, l := range c.Services {
		fmt.Fprintf(&b, "- %s (%s): %s %s", l.Name, l.Service, l.Action, l.Status)
		if !l.FinishedAt.IsZero() {
			fmt.Fprintf(&b, " at %s", l.FinishedAt.Format(time.RFC3339))
		}
		if l.Items > 0 {
			fmt.Fprintf(&b, ", %d items", l.Items)
		}
		switch l.Verification {
		case privacy.VerifyAbsent:
			b.WriteString("; verified: re-queried after the delete, nothing found")
		case privacy.VerifyUnsupported:
			b.WriteString("; verified: the service confirmed the delete (it offers no lookup)")
		}
		if l.Reason != "" {
			fmt.Fprintf(&b, "; reason: %s", l.Reason)
		}
		if l.By != "" {
			fmt.Fprintf(&b, "; completed by %s", l.By)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nIssued: %s\n", c.IssuedAt.Format(time.RFC3339))
	return b.String()
}
