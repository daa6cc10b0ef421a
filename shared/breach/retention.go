package breach

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Strip removes the personal data a notice holds once a tenant's
// breach-records retention policy is past it, and keeps its documentation
// (GDPR Art. 33(5): the facts, effects and remedial action of every breach,
// notified or not, so the authority can verify compliance; no period is
// stated, so the documentation is never deleted by a sweep): the facts and
// phased reports (whose free text holds no data subject's data), dates,
// statuses, clocks met, escalations, and each delivery's time, channel, role,
// version and status. Gone: the contact address or webhook host of each
// delivery, the identity of the admin who acknowledged it or approved the
// subject notice (kept as its kind: "admin", "link:<role>", "policy:…"). It
// sets StrippedAt and reports whether anything changed.
func (n *Notice) Strip(at time.Time) bool {
	if !n.StrippedAt.IsZero() {
		return false
	}
	for i := range n.Deliveries {
		n.Deliveries[i].To = ""
	}
	n.AcknowledgedBy = actorKind(n.AcknowledgedBy)
	n.SubjectApprovedBy = actorKind(n.SubjectApprovedBy)
	n.StrippedAt = at.UTC()
	return true
}

// actorKind keeps what kind of actor a recorded actor was, not who: an
// admin's subject goes; a link's role and a policy's name are not personal.
func actorKind(actor string) string {
	if kind, _, ok := strings.Cut(actor, ":"); ok && kind == "admin" {
		return kind
	}
	return actor
}

// StripNotice strips the tenant's notice of incident id (Strip), in one
// ETag-guarded write, re-read on a conflict. An absent or stripped notice is
// done: idempotent.
func StripNotice(ctx context.Context, st Store, tenantID, id string, at time.Time) error {
	for range 10 {
		n, err := st.GetNotice(ctx, tenantID, id)
		if errors.Is(err, privacy.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("strip notice: %w", err)
		}
		if !n.Strip(at) {
			return nil
		}
		err = st.UpdateNotice(ctx, n)
		if errors.Is(err, privacy.ErrConflict) {
			continue
		}
		if err != nil && !errors.Is(err, privacy.ErrNotFound) {
			return fmt.Errorf("strip notice: %w", err)
		}
		return nil
	}
	return fmt.Errorf("strip notice: %w", privacy.ErrConflict)
}
