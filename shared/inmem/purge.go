package inmem

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/privops/privops/shared/privacy"
)

// The offboarding purge (shared/offboard) of the in-memory adapters. The
// in-memory store has no data containers: it counts no items.

// CountTenantData returns how many documents of kind the tenant has
// (expired inbound records included, as on disk).
func (s *Store) CountTenantData(ctx context.Context, tenantID, kind string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case privacy.DataKindRequests:
		return countKeys(s.requests, tenantID), nil
	case privacy.DataKindInbound:
		return countKeys(s.inbound, tenantID), nil
	case privacy.DataKindItems:
		return 0, nil
	case privacy.DataKindAudit:
		return len(s.audit[tenantID]), nil
	case privacy.DataKindBreachNotices:
		return countKeys(s.breachDocs("notice"), tenantID), nil
	}
	return 0, fmt.Errorf("unknown data kind %q", kind)
}

func countKeys[T any](m map[docKey]T, tenantID string) int {
	n := 0
	for k := range m {
		if k.tenantID == tenantID {
			n++
		}
	}
	return n
}

func purgeKeys[T any](m map[docKey]T, tenantID string, limit int) int {
	n := 0
	for k := range m {
		if n == limit {
			break
		}
		if k.tenantID == tenantID {
			delete(m, k)
			n++
		}
	}
	return n
}

// PurgeTenantData deletes up to limit documents of kind of the tenant and
// returns how many (0: none left). Audit events go newest first, so the
// chain left behind stays a prefix.
func (s *Store) PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error) {
	if limit <= 0 {
		limit = 500
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case privacy.DataKindRequests:
		return purgeKeys(s.requests, tenantID, limit), nil
	case privacy.DataKindInbound:
		return purgeKeys(s.inbound, tenantID, limit), nil
	case privacy.DataKindItems:
		return 0, nil
	case privacy.DataKindBreachNotices:
		return purgeKeys(s.breachDocs("notice"), tenantID, limit), nil
	case privacy.DataKindAudit:
		chain := s.audit[tenantID]
		cut := max(0, len(chain)-limit)
		for _, e := range chain[cut:] {
			delete(s.auditIDs, docKey{tenantID, e.ID})
		}
		n := len(chain) - cut
		if cut == 0 {
			delete(s.audit, tenantID)
		} else {
			s.audit[tenantID] = slices.Clip(chain[:cut])
		}
		return n, nil
	}
	return 0, fmt.Errorf("unknown data kind %q", kind)
}

// DeleteTenant deletes the tenant document; an absent one is no error.
func (s *Store) DeleteTenant(ctx context.Context, tenantID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tenants, tenantID)
	return nil
}

// messageTenant returns the tenant a message body names ("tenantid").
func messageTenant(body []byte) string {
	var head struct {
		TenantID string `json:"tenantid"`
	}
	_ = json.Unmarshal(body, &head)
	return head.TenantID
}

// CountTenantMessages counts the tenant's messages in every queue, dead
// letters included.
func (q *Queue) CountTenantMessages(ctx context.Context, tenantID string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, msgs := range q.queues {
		for _, m := range msgs {
			if messageTenant(m.body) == tenantID {
				n++
			}
		}
	}
	return n, nil
}

// PurgeTenantMessages deletes up to limit of the tenant's messages in every
// queue and returns how many (0: none left).
func (q *Queue) PurgeTenantMessages(ctx context.Context, tenantID string, limit int) (int, error) {
	if limit <= 0 {
		limit = 500
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for name, msgs := range q.queues {
		q.queues[name] = slices.DeleteFunc(msgs, func(m *message) bool {
			if n < limit && messageTenant(m.body) == tenantID {
				n++
				return true
			}
			return false
		})
	}
	return n, nil
}
