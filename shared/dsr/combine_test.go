package dsr

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// countingStore counts request writes and their ETag conflicts; the first
// write waits a moment, so that the other writers of a test pile up behind it.
type countingStore struct {
	privacy.Store
	writes, conflicts atomic.Int64
	holdFirst         time.Duration
}

func (c *countingStore) UpdateRequest(ctx context.Context, r *privacy.Request) error {
	if c.writes.Add(1) == 1 {
		time.Sleep(c.holdFirst)
	}
	err := c.Store.UpdateRequest(ctx, r)
	if errors.Is(err, privacy.ErrConflict) {
		c.conflicts.Add(1)
	}
	return err
}

type nopMailer struct{}

func (nopMailer) Send(context.Context, privacy.Mail) error { return nil }

// newCombineService returns a Service on st and a stored request of ten
// pending tasks.
func newCombineService(tb testing.TB, st privacy.Store) (*Service, *privacy.Request) {
	tb.Helper()
	now := time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)
	s, err := New(Config{NoticesQueue: "notices", TasksQueue: "tasks", CodeTTL: 15 * time.Minute, MaxAttempts: 5},
		Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		Deps{Store: st, Publisher: inmem.NewQueue(inmem.QueueOptions{}), Mailer: nopMailer{}, Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	r := &privacy.Request{ID: "dsr_1", TenantID: "acme", Type: privacy.TypeErase, Status: privacy.StatusInProgress, CreatedAt: now}
	for i := range 10 {
		r.Tasks = append(r.Tasks, privacy.Task{ID: "t" + strconv.Itoa(i), Service: "s" + strconv.Itoa(i), Status: privacy.TaskPending})
	}
	if err := st.CreateRequest(context.Background(), r); err != nil {
		tb.Fatal(err)
	}
	return s, r
}

func statuses(r *privacy.Request) map[string]privacy.TaskStatus {
	m := map[string]privacy.TaskStatus{}
	for _, t := range r.Tasks {
		m[t.ID] = t.Status
	}
	return m
}

// TestUpdateCombinesConcurrentWritesOfOneRequest: ten concurrent changes of
// one request, each from its own (equally old) copy, all land, in fewer
// writes than ten and with no ETag conflict; each caller gets a copy of its
// own. Before the gate every caller but one lost the ETag race at least once.
func TestUpdateCombinesConcurrentWritesOfOneRequest(t *testing.T) {
	t.Parallel()
	st := &countingStore{Store: inmem.NewStore(), holdFirst: 50 * time.Millisecond}
	s, r := newCombineService(t, st)
	var wg sync.WaitGroup
	got := make([]*privacy.Request, 10)
	errs := make([]error, 10)
	for i := range 10 {
		own, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			got[i], errs[i] = s.update(context.Background(), own, func(r *privacy.Request) error {
				r.Task("t" + strconv.Itoa(i)).Status = privacy.TaskDone
				return nil
			})
		})
	}
	wg.Wait()
	want := map[string]privacy.TaskStatus{}
	for i := range 10 {
		if errs[i] != nil {
			t.Fatalf("update %d: %v", i, errs[i])
		}
		want["t"+strconv.Itoa(i)] = privacy.TaskDone
		if got[i].Task("t"+strconv.Itoa(i)).Status != privacy.TaskDone {
			t.Errorf("caller %d: its own change is missing from the copy it got", i)
		}
		for j := range i {
			if got[i] == got[j] {
				t.Errorf("callers %d and %d share one copy", i, j)
			}
		}
	}
	stored, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, statuses(stored)); diff != "" {
		t.Errorf("stored tasks (-want +got):\n%s", diff)
	}
	if n := st.conflicts.Load(); n != 0 {
		t.Errorf("%d ETag conflicts, want none", n)
	}
	if n := st.writes.Load(); n >= 10 {
		t.Errorf("%d writes for ten concurrent changes, want them combined", n)
	}
}

// TestUpdateCombinedChangeRefusedTakesNothing: a change that fails after
// changing the document it was given writes nothing of itself, and the
// changes combined with it are written.
func TestUpdateCombinedChangeRefusedTakesNothing(t *testing.T) {
	t.Parallel()
	st := &countingStore{Store: inmem.NewStore(), holdFirst: 50 * time.Millisecond}
	s, r := newCombineService(t, st)
	refused := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		own, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			_, errs[i] = s.update(context.Background(), own, func(r *privacy.Request) error {
				r.Task("t" + strconv.Itoa(i)).Status = privacy.TaskDone
				if i == 2 {
					return refused // after changing r
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := i == 2; errors.Is(err, refused) != want || (!want && err != nil) {
			t.Errorf("update %d: %v", i, err)
		}
	}
	stored, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]privacy.TaskStatus{"t0": privacy.TaskDone, "t1": privacy.TaskDone, "t2": privacy.TaskPending, "t3": privacy.TaskDone}
	for i := 4; i < 10; i++ {
		want["t"+strconv.Itoa(i)] = privacy.TaskPending
	}
	if diff := cmp.Diff(want, statuses(stored)); diff != "" {
		t.Errorf("stored tasks (-want +got):\n%s", diff)
	}
}

// TestUpdateAfterAnotherProcessWrote: a write the gate did not see (another
// process's) makes the combined write conflict; the changes are applied
// again to the newer document and nothing of either is lost.
func TestUpdateAfterAnotherProcessWrote(t *testing.T) {
	t.Parallel()
	st := &countingStore{Store: inmem.NewStore()}
	s, r := newCombineService(t, st)
	old, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.update(context.Background(), old, func(r *privacy.Request) error {
		r.Task("t0").Status = privacy.TaskDone
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Another process writes t9, bypassing this process's gate.
	other, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	other.Task("t9").Status = privacy.TaskFailed
	if err := st.Store.UpdateRequest(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	// This process still holds the copy of its first write.
	if _, err := s.update(context.Background(), old, func(r *privacy.Request) error {
		r.Task("t1").Status = privacy.TaskDone
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(stored)
	if got["t0"] != privacy.TaskDone || got["t1"] != privacy.TaskDone || got["t9"] != privacy.TaskFailed {
		t.Errorf("stored tasks %v: want t0 and t1 done, t9 failed", got)
	}
	if n := st.conflicts.Load(); n != 1 {
		t.Errorf("%d conflicts, want the one with the other process's write", n)
	}
}

// countingPublisher counts Publish calls.
type countingPublisher struct {
	privacy.Publisher
	calls, msgs atomic.Int64
}

func (c *countingPublisher) Publish(ctx context.Context, queue string, msgs ...privacy.OutMessage) error {
	c.calls.Add(1)
	c.msgs.Add(int64(len(msgs)))
	return c.Publisher.Publish(ctx, queue, msgs...)
}

// TestFlushPublishesARunOfMessagesAtOnce: the ten task messages of an
// approval and the notice after them go out in two Publish calls (one per
// queue), not eleven, and the outbox is cleared.
func TestFlushPublishesARunOfMessagesAtOnce(t *testing.T) {
	t.Parallel()
	st := &countingStore{Store: inmem.NewStore()}
	s, r := newCombineService(t, st)
	pub := &countingPublisher{Publisher: s.d.Publisher}
	s.d.Publisher = pub
	now := s.now()
	r, err := s.update(context.Background(), r, func(r *privacy.Request) error {
		for i := range r.Tasks {
			if err := s.taskMessage(r, &r.Tasks[i], now, ""); err != nil {
				return err
			}
		}
		s.audit(r, now, "system", "request.fanned-out", nil)
		return s.notice(r, now, privacy.NoticeApproved)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if c, m := pub.calls.Load(), pub.msgs.Load(); c != 2 || m != 11 {
		t.Errorf("%d Publish calls with %d messages, want 2 with 11", c, m)
	}
	stored, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Outbox) != 0 {
		t.Errorf("%d outbox events left after Flush", len(stored.Outbox))
	}
}

// TestUpdateRefusalOnAKeptCopyIsDecidedAgain: a change refused by the copy
// this process kept of its last write (older than the stored request, which
// another process changed since) is applied again to the stored request, and
// there it succeeds.
func TestUpdateRefusalOnAKeptCopyIsDecidedAgain(t *testing.T) {
	t.Parallel()
	st := &countingStore{Store: inmem.NewStore()}
	s, r := newCombineService(t, st)
	r, err := s.update(context.Background(), r, func(r *privacy.Request) error {
		r.Task("t0").Status = privacy.TaskRunning
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another process puts the task back to pending (a redrive).
	other, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	other.Task("t0").Status = privacy.TaskPending
	if err := st.Store.UpdateRequest(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	fresh, err := st.GetRequest(context.Background(), r.TenantID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The caller read the stored request; the kept copy still says running.
	got, err := s.update(context.Background(), fresh, func(r *privacy.Request) error {
		if r.Task("t0").Status != privacy.TaskPending {
			return errStale
		}
		r.Task("t0").Status = privacy.TaskRunning
		r.Task("t0").Attempts++
		return nil
	})
	if err != nil {
		t.Fatalf("claim refused: %v", err)
	}
	if a := got.Task("t0").Attempts; a != 1 {
		t.Errorf("attempts %d, want 1", a)
	}
}
