package inmem

import (
	"context"
	"time"
)

// lease is one named operator-level lease.
type lease struct {
	owner string
	until time.Time
}

// AcquireLease gives the lease name to owner until then, unless another owner
// holds it past now; a renewal by the holder always succeeds.
func (s *Store) AcquireLease(_ context.Context, name, owner string, now, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases == nil {
		s.leases = map[string]lease{}
	}
	for n, l := range s.leases { // past occurrences' leases go a day after they expired
		if l.until.Before(now.Add(-24 * time.Hour)) {
			delete(s.leases, n)
		}
	}
	if cur, ok := s.leases[name]; ok && cur.owner != owner && cur.until.After(now) {
		return false, nil
	}
	s.leases[name] = lease{owner: owner, until: until}
	return true, nil
}

// ReleaseLease ends owner's lease, if it still holds it.
func (s *Store) ReleaseLease(_ context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.leases[name]; ok && cur.owner == owner {
		delete(s.leases, name)
	}
	return nil
}
