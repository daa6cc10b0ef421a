package storetest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Leases is the operator-level lease port (the retention timer's lease
// document: operator partition, guarded, with an expiry).
type Leases interface {
	// AcquireLease gives the lease name to owner until then, unless another
	// owner holds it past now; a renewal by the holder always succeeds. It
	// reports whether owner holds the lease.
	AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
	// ReleaseLease ends owner's lease, if it still holds it. Idempotent.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// RunLeases runs the lease conformance tests. Lease names are random, so the
// suite can share a backend with other runs.
func RunLeases(t *testing.T, s Leases) {
	tests := []struct {
		name string
		test func(t *testing.T, s Leases)
	}{
		{"LeaseHeldExpiresAndRenews", testLeaseLifecycle},
		{"LeaseConcurrentAcquire", testLeaseConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, s)
		})
	}
}

func testLeaseLifecycle(t *testing.T, s Leases) {
	ctx := t.Context()
	name := "st-lease-" + randomHex(t, 6)
	// Each acquire asks for ten minutes: a's renewal at +2m holds to +12m.
	renewed := t0.Add(12 * time.Minute)
	steps := []struct {
		what  string
		owner string
		now   time.Time
		want  bool
	}{
		{"a free lease is taken", "a", t0, true},
		{"another owner is refused while it holds", "b", t0.Add(time.Minute), false},
		{"the holder renews", "a", t0.Add(2 * time.Minute), true},
		{"another owner is refused until it expires", "b", renewed.Add(-time.Nanosecond), false},
		{"an expired lease (a holder that died) is taken over", "b", renewed.Add(time.Second), true},
		{"the old holder is refused now", "a", renewed.Add(2 * time.Second), false},
	}
	for _, st := range steps {
		got, err := s.AcquireLease(ctx, name, st.owner, st.now, st.now.Add(10*time.Minute))
		requireNoError(t, err, st.what)
		if got != st.want {
			t.Fatalf("%s: acquire by %s = %v, want %v", st.what, st.owner, got, st.want)
		}
	}
	until := renewed
	requireNoError(t, s.ReleaseLease(ctx, name, "a"), "release by a non-holder")
	if ok, err := s.AcquireLease(ctx, name, "c", until.Add(3*time.Second), until.Add(time.Hour)); err != nil || ok {
		t.Fatalf("a release by a non-holder freed the lease: acquire by c = %v, %v", ok, err)
	}
	requireNoError(t, s.ReleaseLease(ctx, name, "b"), "release by the holder")
	requireNoError(t, s.ReleaseLease(ctx, name, "b"), "release again")
	if ok, err := s.AcquireLease(ctx, name, "c", until.Add(3*time.Second), until.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("after the holder's release: acquire by c = %v, %v; want true", ok, err)
	}
}

// testLeaseConcurrent: eight owners ask for one free lease at once; exactly
// one gets it.
func testLeaseConcurrent(t *testing.T, s Leases) {
	ctx := t.Context()
	name := "st-lease-" + randomHex(t, 6)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 8 {
		wg.Go(func() {
			ok, err := s.AcquireLease(ctx, name, "owner-"+string(rune('a'+i)), t0, t0.Add(time.Minute))
			if err != nil {
				t.Errorf("acquire: %v", err)
				return
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d owners got the lease at once, want 1", won)
	}
}
