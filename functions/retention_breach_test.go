package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqlite"
	"github.com/privops/privops/shared/trigger"
)

// TestBreachRecordsSweptThroughTheApp: the app wires the breach-records
// sweep (notices of the store, campaigns of the fan-out's store). A policy
// counts from the incident's closing (from "created" is refused); an
// incident declared and closed is kept while its age is under the policy and
// the 5-year floors; six years later the sweep strips the tenant's notice
// (no delivery address left), leaves the operator's incident and the other
// tenant's notice as they were, and reports it purged.
func TestBreachRecordsSweptThroughTheApp(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "privops.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ta := newTestAppWith(t, func(ad *adapters) { ad.now = clock; ad.breachStore = db.BreachSend() })
	ctx := context.Background()
	ta.breachContacts(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/retention/policies/breaches", header: bearer(admin),
		body: `{"category":"breach-records","scope":"suite","maxAgeDays":1827,"from":"created","action":"delete"}`})
	if r.status != http.StatusUnprocessableEntity || r.code != "invalid-retention-policy" {
		t.Fatalf("a breach-records policy from created: %d %v", r.status, r.body)
	}
	r = ta.do(t, call{method: "PUT", path: "/api/admin/acme/retention/policies/breaches", header: bearer(admin),
		body: `{"category":"breach-records","scope":"suite","maxAgeDays":1827,"from":"incident-closed","action":"delete"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("put policy: %d %v", r.status, r.body)
	}
	var d breach.Declaration
	if err := json.Unmarshal([]byte(incidentJSON(`,"tenants":["acme","globex"]`)), &d); err != nil {
		t.Fatal(err)
	}
	in, _, err := ta.breach.Declare(ctx, d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ta.breach.AddReport(ctx, in.ID, breach.ReportInput{Summary: "closed", Facts: in.Facts, Status: breach.StatusClosed}, "operator:sec"); err != nil {
		t.Fatal(err)
	}
	bs := ta.store // the in-memory store holds the incidents and notices
	before, err := bs.GetIncident(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := bs.GetNotice(ctx, "globex", in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mine, err := bs.GetNotice(ctx, "acme", in.ID); err != nil || len(mine.Deliveries) == 0 || mine.Deliveries[0].To == "" {
		t.Fatalf("acme's notice before the sweep: %+v, %v; want a delivery to its contact", mine, err)
	}

	sweep := func(at time.Time) (status string, purged int64) {
		t.Helper()
		mu.Lock()
		now = at
		mu.Unlock()
		run, err := ta.sweeper.Run(ctx, "acme", fmt.Sprintf("test-%d", at.Unix()), time.Minute)
		if err != nil || !run.Finished() {
			t.Fatalf("run: %+v, %v", run, err)
		}
		return run.Policies[0].Status, run.Policies[0].Purged
	}
	if st, n := sweep(now.AddDate(1, 0, 0)); st != "done" || n != 0 {
		t.Fatalf("a year after the closing: %s, %d purged; want done, 0", st, n)
	}
	if n, _ := bs.GetNotice(ctx, "acme", in.ID); !n.StrippedAt.IsZero() {
		t.Fatal("stripped a year after the closing")
	}
	if st, n := sweep(now.AddDate(6, 0, 0)); st != "done" || n != 1 {
		t.Fatalf("six years after the closing: %s, %d purged; want done, 1", st, n)
	}
	n, err := bs.GetNotice(ctx, "acme", in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.StrippedAt.IsZero() || n.Facts.Title == "" || len(n.Reports) != 2 {
		t.Errorf("notice after the sweep: strippedAt %v, title %q, %d reports; want stripped with its documentation", n.StrippedAt, n.Facts.Title, len(n.Reports))
	}
	for _, dl := range n.Deliveries {
		if dl.To != "" {
			t.Errorf("a delivery still names %q", dl.To)
		}
	}
	if after, err := bs.GetIncident(ctx, in.ID); err != nil || after.ETag != before.ETag {
		t.Errorf("the operator's incident was written by a tenant's policy: %v", err)
	}
	if after, err := bs.GetNotice(ctx, "globex", in.ID); err != nil || after.ETag != theirs.ETag || !after.StrippedAt.IsZero() {
		t.Errorf("another tenant's notice was written: %v", err)
	}
}

// TestRetentionTimerSweepsDeadLetters: on the built-in queue, the nightly
// timer (as the app wires it) empties the bodies of dead letters enqueued
// longer ago than DEADLETTER_KEEP (14 days) and keeps their rows; the inbound
// queue's go sooner when a tenant's rejected-inbound policy is shorter;
// younger ones stay.
func TestRetentionTimerSweepsDeadLetters(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	t0 := time.Date(2030, 3, 1, 2, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	at := func(days int) { mu.Lock(); defer mu.Unlock(); now = t0.AddDate(0, 0, days) }
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "privops.db"), sqlite.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	q := db.Queue()
	ta := newTestAppWith(t, func(ad *adapters) { ad.now, ad.publisher = clock, q })
	ctx := context.Background()
	tasks, inboundQ := ta.cfg.TasksQueue, ta.cfg.InboundQueue
	const body = `{"email":"ada@example.com"}`
	deadLetter := func(queue, id string) {
		t.Helper()
		if err := q.Publish(ctx, queue, privacy.OutMessage{ID: id, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		d, err := q.Receive(ctx, queue, time.Minute)
		if err != nil || d == nil {
			t.Fatalf("receive %s: %v", id, err)
		}
		if err := q.DeadLetter(ctx, d, "schema"); err != nil {
			t.Fatal(err)
		}
	}
	var timer trigger.TimerFunc
	for _, f := range ta.funcs {
		if f.Name == "retention" {
			timer = f.Timer
		}
	}
	runTimer := func() {
		t.Helper()
		if err := timer(ctx, trigger.TimerInfo{ScheduledAt: clock()}); err != nil {
			t.Fatal(err)
		}
	}
	bodies := func(queue string) map[string]string {
		t.Helper()
		ds, err := q.DeadLetters(ctx, queue, 100)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range ds {
			out[d.ID] = string(d.Body)
		}
		return out
	}
	check := func(when string, want map[string]map[string]string) {
		t.Helper()
		for queue, w := range want {
			if diff := cmp.Diff(w, bodies(queue)); diff != "" {
				t.Errorf("%s: dead letters of %s (-want +got):\n%s", when, queue, diff)
			}
		}
	}

	deadLetter(tasks, "task-old")
	deadLetter(inboundQ, "inbound-old")
	at(5)
	deadLetter(tasks, "task-young")
	deadLetter(inboundQ, "inbound-young")
	tn, err := ta.store.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tn.RetentionPolicies = append(tn.RetentionPolicies, privacy.RetentionPolicy{ID: "bodies", Category: "rejected-inbound", Scope: "suite",
		MaxAgeDays: 3, From: "created", Action: "delete"})
	if err := ta.store.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	at(6) // acme's 3-day policy binds the inbound queue's dead letters
	runTimer()
	check("day 6", map[string]map[string]string{
		tasks:    {"task-old": body, "task-young": body},
		inboundQ: {"inbound-old": "", "inbound-young": body},
	})
	at(15) // past DEADLETTER_KEEP for task-old
	runTimer()
	check("day 15", map[string]map[string]string{
		tasks:    {"task-old": "", "task-young": body},
		inboundQ: {"inbound-old": "", "inbound-young": ""},
	})
	if !strings.Contains(ta.logs.String(), "dead-letter sweep finished") {
		t.Error("no dead-letter count in the log")
	}
}
