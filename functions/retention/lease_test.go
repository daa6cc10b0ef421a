package retention

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqlite"
	"github.com/privops/privops/shared/trigger"
)

// blockingPublisher records ids and, when gate is set, waits on it before
// the first publish: the winner is still enqueueing while the other runs.
type blockingPublisher struct {
	mu   sync.Mutex
	ids  []string
	gate chan struct{}
	fail error
}

func (p *blockingPublisher) Publish(_ context.Context, _ string, msgs ...privacy.OutMessage) error {
	if p.gate != nil {
		<-p.gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	for _, m := range msgs {
		p.ids = append(p.ids, m.ID)
	}
	return nil
}

// syncBuffer is a log sink two invocations write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// openShared opens the same SQLite file twice: two hosts sharing one store.
func openShared(tb testing.TB) (*sqlite.DB, *sqlite.DB) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "privops.db")
	var dbs []*sqlite.DB
	for range 2 {
		db, err := sqlite.Open(tb.Context(), path, sqlite.Options{})
		if err != nil {
			tb.Fatalf("open: %v", err)
		}
		tb.Cleanup(func() { _ = db.Close() })
		dbs = append(dbs, db)
	}
	return dbs[0], dbs[1]
}

// TestTwoTimersAtOnceOneRunsOneSkips: two timer invocations for the same
// occurrence, started at once on two handles of one SQLite store: one takes
// the timer lease and enqueues, the other skips, logged, while the first is
// still enqueueing.
func TestTwoTimersAtOnceOneRunsOneSkips(t *testing.T) {
	t.Parallel()
	a, b := openShared(t)
	ts := tenants{{ID: "acme", RetentionPolicies: []privacy.RetentionPolicy{{ID: "p"}}}}
	due := time.Date(2030, 3, 31, 2, 0, 0, 0, time.UTC)
	pub := &blockingPublisher{gate: make(chan struct{})}
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	now := func() time.Time { return due.Add(time.Second) }
	fns := []trigger.TimerFunc{
		New(Config{Queue: "q"}, Deps{Tenants: ts, Publisher: pub, Lease: a.Store(), Now: now, Logger: log, NewID: func() string { return "host-a" }}),
		New(Config{Queue: "q"}, Deps{Tenants: ts, Publisher: pub, Lease: b.Store(), Now: now, Logger: log, NewID: func() string { return "host-b" }}),
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn(t.Context(), trigger.TimerInfo{ScheduledAt: due}) })
	}
	// The loser returns without publishing while the winner waits at the gate.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "another invocation holds the timer lease") {
		if time.Now().After(deadline) {
			close(pub.gate)
			wg.Wait()
			t.Fatalf("no invocation skipped; logs: %s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(pub.gate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"retention-acme-1901152800"}, pub.ids); diff != "" {
		t.Errorf("jobs enqueued (-want +got):\n%s", diff)
	}
	if got := strings.Count(logs.String(), "retention sweep enqueued"); got != 1 {
		t.Errorf("%d invocations enqueued, want 1; logs: %s", got, logs.String())
	}
}

// TestTimerLeaseOfACrashedHolderExpires: a holder that died keeps the
// occurrence's lease until it expires; a timer then runs. A timer whose
// enqueue failed releases the lease, so the host's retry runs at once; a
// duplicate after it skips; the next occurrence runs under its own lease.
func TestTimerLeaseOfACrashedHolderExpires(t *testing.T) {
	t.Parallel()
	db, _ := openShared(t)
	store := db.Store()
	ts := tenants{{ID: "acme", RetentionPolicies: []privacy.RetentionPolicy{{ID: "p"}}}}
	due := time.Date(2030, 3, 31, 2, 0, 0, 0, time.UTC)
	// The crashed holder took the lease at the occurrence and never came back.
	if ok, err := store.AcquireLease(t.Context(), LeaseName(due), "crashed", due, due.Add(DefaultLease)); err != nil || !ok {
		t.Fatalf("crashed holder's acquire = %v, %v", ok, err)
	}
	cases := []struct {
		name    string
		at      time.Time
		fail    error
		wantErr bool
		wantIDs int
	}{
		{"while the dead holder's lease holds: skip", due.Add(DefaultLease - time.Second), nil, false, 0},
		{"once it expired: run", due.Add(DefaultLease + time.Second), errors.New("queue down"), true, 0},
		{"the retry after a failed enqueue runs at once", due.Add(DefaultLease + 2*time.Second), nil, false, 1},
		{"a duplicate of the occurrence within the new lease skips", due.Add(DefaultLease + 3*time.Second), nil, false, 1},
		{"the next occurrence has a lease of its own", due.Add(DefaultLease + 4*time.Second), nil, false, 2},
	}
	pub := &blockingPublisher{}
	for i, c := range cases {
		pub.fail = c.fail
		fn := New(Config{Queue: "q"}, Deps{Tenants: ts, Publisher: pub, Lease: store, Now: func() time.Time { return c.at },
			Logger: slog.New(slog.DiscardHandler), NewID: func() string { return "host-" + string(rune('a'+i)) }})
		occurrence := due
		if i == len(cases)-1 {
			occurrence = due.Add(DefaultLease + 4*time.Second)
		}
		err := fn(t.Context(), trigger.TimerInfo{ScheduledAt: occurrence})
		if (err != nil) != c.wantErr {
			t.Fatalf("%s: err = %v, want error %v", c.name, err, c.wantErr)
		}
		if len(pub.ids) != c.wantIDs {
			t.Fatalf("%s: %d jobs enqueued so far, want %d", c.name, len(pub.ids), c.wantIDs)
		}
	}
}
