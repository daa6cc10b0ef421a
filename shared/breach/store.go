package breach

import (
	"context"
	"time"
)

// Store is the breach state port. Incidents live in the operator's partition
// (privacy.OperatorTenant), notices in each tenant's. Errors: wrapped
// privacy.ErrNotFound, privacy.ErrConflict, privacy.ErrUnavailable, or
// another error for a fault. Stores keep their own copies: changing a value
// passed in or handed out changes nothing stored.
type Store interface {
	// CreateIncident stores a new incident and sets its ETag. ErrConflict if
	// the id exists (a deterministic id makes a create idempotent).
	CreateIncident(ctx context.Context, in *Incident) error
	// GetIncident is a point read. ErrNotFound if absent.
	GetIncident(ctx context.Context, id string) (*Incident, error)
	// UpdateIncident replaces the incident if its ETag matches and sets the
	// new one. ErrConflict on a mismatch (an empty ETag never matches);
	// ErrNotFound if absent.
	UpdateIncident(ctx context.Context, in *Incident) error
	// ListIncidents pages through incidents, newest CreatedAt first (ties by
	// id, descending). limit is 1..200 (default 50); a bad cursor is a
	// wrapped *privacy.Error "invalid-cursor".
	ListIncidents(ctx context.Context, cursor string, limit int) (IncidentPage, error)
	// IncidentsNeedingAttention returns up to limit incidents whose
	// AttentionAt is set and not after before (the watch's query).
	IncidentsNeedingAttention(ctx context.Context, before time.Time, limit int) ([]*Incident, error)

	// CreateNotice stores a tenant's notice and sets its ETag. ErrConflict if
	// the tenant already has one with the id.
	CreateNotice(ctx context.Context, n *Notice) error
	// GetNotice is a point read in the tenant's partition. ErrNotFound if
	// absent or of another tenant.
	GetNotice(ctx context.Context, tenantID, id string) (*Notice, error)
	// UpdateNotice replaces the notice if its ETag matches, as UpdateIncident.
	UpdateNotice(ctx context.Context, n *Notice) error
	// ListNotices pages through one tenant's notices, newest CreatedAt first,
	// as ListIncidents.
	ListNotices(ctx context.Context, tenantID, cursor string, limit int) (NoticePage, error)
	// NoticesNeedingAttention returns up to limit notices of one tenant whose
	// AttentionAt is set and not after before.
	NoticesNeedingAttention(ctx context.Context, tenantID string, before time.Time, limit int) ([]*Notice, error)
}

// IncidentPage is one page of incidents.
type IncidentPage struct {
	Incidents []*Incident
	Next      string // "" on the last page
}

// NoticePage is one page of a tenant's notices.
type NoticePage struct {
	Notices []*Notice
	Next    string
}
