package operator

import (
	"context"
	"net/http"
	"time"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/web"
)

// Requests pages through a tenant's requests (dsr.Service.List).
type Requests interface {
	List(ctx context.Context, tenantID string, f privacy.RequestFilter) (privacy.RequestPage, error)
}

// InboundLog pages through a tenant's inbound messages (dsr.Service.ListInbound).
type InboundLog interface {
	ListInbound(ctx context.Context, tenantID string, f privacy.InboundFilter) (privacy.InboundPage, error)
}

// Notices pages through a tenant's incident notices (the breach flow).
type Notices interface {
	Notices(ctx context.Context, tenantID, cursor string, limit int) (breach.NoticePage, error)
}

// healthScanLimit bounds how many records of one kind a health read walks:
// beyond it the count is reported as a floor (Truncated). An operator
// dashboard needs orders of magnitude, not a full scan of a busy tenant.
const healthScanLimit = 5000

// Health is a tenant's health as the operator sees it: counts, ids and
// timestamps only, never a subject's data (GDPR Art. 28(3): the processor
// watches its own processing, not the data it processes).
type Health struct {
	TenantID string               `json:"tenantId"`
	Status   privacy.TenantStatus `json:"status"`
	At       time.Time            `json:"at"`
	// OpenRequests counts the requests in each non-terminal state.
	OpenRequests map[string]int `json:"openRequests"`
	// Overdue counts open requests past their due date.
	Overdue int `json:"overdue"`
	// FailedTasks counts failed tasks of open and partially completed requests.
	FailedTasks int `json:"failedTasks"`
	// Retention is the newest retention run: its id, when, and a state.
	Retention HealthRun `json:"retention"`
	// OpenIncidents counts the tenant's incident notices not closed.
	OpenIncidents int `json:"openIncidents"`
	// DeadLettered counts inbound messages refused and kept for replay.
	DeadLettered int `json:"deadLettered"`
	// Truncated names the counts that stopped at the scan limit (floors).
	Truncated []string `json:"truncated"`
}

// HealthRun is the newest retention run in a Health.
type HealthRun struct {
	// State: none, running, completed, or completed-with-failures.
	State      string    `json:"state"`
	RunID      string    `json:"runId,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	Failed     int64     `json:"failed"`
}

// health answers a tenant's health counts.
func (o *Operator) health(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := o.svc.Tenant(ctx, r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	now := o.now().UTC()
	h := Health{TenantID: t.ID, Status: t.Status, At: now, OpenRequests: map[string]int{}, Truncated: []string{}}
	if h.Status == "" {
		h.Status = privacy.TenantActive
	}
	if err := o.requestHealth(ctx, t.ID, now, &h); err != nil {
		web.Problem(w, r, err)
		return
	}
	runs, err := retention.Runs(t)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	h.Retention = runHealth(runs)
	if o.notices != nil {
		if err := o.incidentHealth(ctx, t.ID, &h); err != nil {
			web.Problem(w, r, err)
			return
		}
	}
	if o.inbound != nil {
		if err := o.inboundHealth(ctx, t.ID, &h); err != nil {
			web.Problem(w, r, err)
			return
		}
	}
	web.JSON(w, http.StatusOK, h)
}

// requestHealth counts open requests by state, the overdue ones and their
// failed tasks, one status filter at a time (each a partition-scoped query).
func (o *Operator) requestHealth(ctx context.Context, tenantID string, now time.Time, h *Health) error {
	statuses := []privacy.Status{}
	for _, s := range privacy.Statuses {
		if !s.Terminal() {
			statuses = append(statuses, s)
		}
	}
	// Partially completed is an outcome, but its failed tasks wait for a retry.
	statuses = append(statuses, privacy.StatusPartiallyCompleted)
	for _, s := range statuses {
		f := privacy.RequestFilter{Status: s, Limit: 200}
		seen := 0
		for {
			page, err := o.reqs.List(ctx, tenantID, f)
			if err != nil {
				return err
			}
			for _, req := range page.Requests {
				seen++
				if !s.Terminal() {
					h.OpenRequests[string(s)]++
					if !req.Due.At.IsZero() && req.Due.At.Before(now) {
						h.Overdue++
					}
				}
				for _, tk := range req.Tasks {
					if tk.Status == privacy.TaskFailed {
						h.FailedTasks++
					}
				}
			}
			if page.Next == "" {
				break
			}
			if seen >= healthScanLimit {
				h.Truncated = append(h.Truncated, "requests:"+string(s))
				break
			}
			f.Cursor = page.Next
		}
	}
	return nil
}

// runHealth summarises the newest run (runs: the current one first).
func runHealth(runs []retention.Run) HealthRun {
	if len(runs) == 0 {
		return HealthRun{State: "none"}
	}
	r := runs[0]
	out := HealthRun{RunID: r.ID, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, State: "completed"}
	for _, p := range r.Policies {
		out.Failed += p.Failed
	}
	switch {
	case r.FinishedAt.IsZero():
		out.State = "running"
	case out.Failed > 0:
		out.State = "completed-with-failures"
	}
	return out
}

func (o *Operator) incidentHealth(ctx context.Context, tenantID string, h *Health) error {
	cursor, seen := "", 0
	for {
		page, err := o.notices.Notices(ctx, tenantID, cursor, 100)
		if err != nil {
			return err
		}
		for _, n := range page.Notices {
			seen++
			if n.Status != breach.StatusClosed {
				h.OpenIncidents++
			}
		}
		if page.Next == "" {
			return nil
		}
		if seen >= healthScanLimit {
			h.Truncated = append(h.Truncated, "incidents")
			return nil
		}
		cursor = page.Next
	}
}

func (o *Operator) inboundHealth(ctx context.Context, tenantID string, h *Health) error {
	f := privacy.InboundFilter{Status: privacy.InboundRejected, Limit: 100}
	for {
		page, err := o.inbound.ListInbound(ctx, tenantID, f)
		if err != nil {
			return err
		}
		h.DeadLettered += len(page.Records)
		if page.Next == "" {
			return nil
		}
		if h.DeadLettered >= healthScanLimit {
			h.Truncated = append(h.Truncated, "deadLettered")
			return nil
		}
		f.Cursor = page.Next
	}
}
