package standalone

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

func TestTimerFiresOnSchedule(t *testing.T) {
	t.Parallel()
	runs := make(chan trigger.TimerInfo, 8)
	ids := make(chan string, 8)
	start(t, &Host{
		Functions: []trigger.Function{{Name: "tick", Timer: func(ctx context.Context, ti trigger.TimerInfo) error {
			inv, _ := trigger.InvocationFrom(ctx)
			ids <- inv.ID
			runs <- ti
			return nil
		}}},
		Specs: []funcjson.Spec{timerSpec("tick", "*/1 * * * * *")},
	})
	first := wait(t, runs, "the first run")
	second := wait(t, runs, "the second run")
	for _, ti := range []trigger.TimerInfo{first, second} {
		if ti.ScheduledAt.Location() != time.UTC || !ti.ScheduledAt.Equal(ti.ScheduledAt.Truncate(time.Second)) {
			t.Errorf("ScheduledAt = %s, want a whole second in UTC", ti.ScheduledAt)
		}
	}
	if !second.ScheduledAt.After(first.ScheduledAt) {
		t.Errorf("occurrences %s then %s, want increasing", first.ScheduledAt, second.ScheduledAt)
	}
	if a, b := <-ids, <-ids; a == "" || a == b {
		t.Errorf("invocation ids %q, %q; want distinct and set", a, b)
	}
}

// A run that outlasts the interval (simulated by advancing the clock inside
// it) must neither overlap the next run nor replay every missed second: the
// missed occurrences collapse into one run with IsPastDue.
func TestTimerLateRunsCollapseAndNeverOverlap(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64 // the simulated clock runs ahead of the real one by this much
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

	var inFlight, maxInFlight atomic.Int32
	var mu sync.Mutex
	var runs []trigger.TimerInfo
	enough := make(chan struct{})
	_, stop := start(t, &Host{
		Now: now,
		Functions: []trigger.Function{{Name: "sweep", Timer: func(ctx context.Context, ti trigger.TimerInfo) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			if n > maxInFlight.Load() {
				maxInFlight.Store(n)
			}
			offset.Add(int64(3 * time.Second)) // this run "takes" three seconds
			mu.Lock()
			defer mu.Unlock()
			runs = append(runs, ti)
			if len(runs) == 4 {
				close(enough)
			}
			return nil
		}}},
		Specs: []funcjson.Spec{timerSpec("sweep", "*/1 * * * * *")},
	})
	wait(t, enough, "four runs")
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if maxInFlight.Load() != 1 {
		t.Errorf("at most %d runs at once, want 1", maxInFlight.Load())
	}
	if runs[0].IsPastDue {
		t.Errorf("first run %+v is past due, want on time", runs[0])
	}
	for i := 1; i < len(runs); i++ {
		if !runs[i].IsPastDue {
			t.Errorf("run %d %+v not past due, want past due after a 3 s run", i, runs[i])
		}
		if !runs[i].ScheduledAt.After(runs[i-1].ScheduledAt) {
			t.Errorf("run %d scheduled at %s, not after %s", i, runs[i].ScheduledAt, runs[i-1].ScheduledAt)
		}
		if i >= 2 && runs[i].ScheduledAt.Sub(runs[i-1].ScheduledAt) < 2*time.Second {
			t.Errorf("runs %d and %d are %s apart: missed occurrences were replayed one by one",
				i-1, i, runs[i].ScheduledAt.Sub(runs[i-1].ScheduledAt))
		}
	}
}

// After a pause (a suspended machine: the clock jumps hours ahead), the missed
// occurrences run once, late, with IsPastDue.
func TestTimerPausedMachineRunsOnceLate(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	base := time.Now()
	now := func() time.Time {
		if calls.Add(1) == 1 {
			return base // when the schedule is computed
		}
		return time.Now().Add(3 * time.Hour) // every later look at the clock
	}
	runs := make(chan trigger.TimerInfo, 4)
	_, stop := start(t, &Host{
		Now:       now,
		Functions: []trigger.Function{{Name: "watch", Timer: func(_ context.Context, ti trigger.TimerInfo) error { runs <- ti; return nil }}},
		Specs:     []funcjson.Spec{timerSpec("watch", "0 5 * * * *")},
	})
	got := wait(t, runs, "the late run")
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	want := base.UTC().Truncate(time.Hour).Add(5 * time.Minute)
	if !want.After(base) {
		want = want.Add(time.Hour)
	}
	if !got.IsPastDue || !got.ScheduledAt.Equal(want) {
		t.Errorf("run = %+v, want the first missed occurrence %s, past due", got, want)
	}
	if extra := len(runs); extra != 0 {
		t.Errorf("%d more runs, want the missed occurrences collapsed into one", extra)
	}
}
