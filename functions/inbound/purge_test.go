package inbound

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/builtin"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
)

// purgeFixture adds to the fixture a Service Bus service "erp" of acme with
// a retention policy, and a sweeper whose run has sent erp its purge
// command; it returns the sweeper and the run id.
func (f *fixture) purgeRun(tb testing.TB) (*retention.Sweeper, string) {
	tb.Helper()
	ctx := context.Background()
	t, err := f.store.GetTenant(ctx, "acme")
	if err != nil {
		tb.Fatal(err)
	}
	t.Services = append(t.Services, privacy.Service{ID: "erp", Name: "ERP", Kind: privacy.KindServiceBus, Queue: "erp-in",
		Actions: []privacy.Action{privacy.ActionErase, privacy.ActionPurge}, Categories: []privacy.Category{privacy.CategoryBilling}, Identifiers: []string{"email"},
		Secrets: []privacy.ServiceSecret{{ID: "s1", Value: base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))}}})
	t.RetentionPolicies = []privacy.RetentionPolicy{{ID: "erp-orders", Category: retention.CategoryPayment, Scope: retention.ScopeService,
		Service: "erp", MaxAgeDays: 400, From: retention.FromCreated, Action: retention.ActionDelete}}
	if err := f.store.UpdateTenant(ctx, t); err != nil {
		tb.Fatal(err)
	}
	n := 0
	s, err := retention.NewSweeper(retention.Config{}, retention.Deps{Tenants: f.store, Now: func() time.Time { return t0 },
		Hash: func(_, e string) string { return "h:" + e }, Flush: f.svc.FlushTenant,
		NewID:   func() string { n++; return fmt.Sprintf("run_%d", n) },
		Purgers: map[privacy.ConnectorKind]privacy.Purger{privacy.KindServiceBus: builtin.Queue{Publisher: f.queue, Now: func() time.Time { return t0 }}}})
	if err != nil {
		tb.Fatal(err)
	}
	run, err := s.Run(ctx, "acme", "job-1", time.Minute)
	if err != nil || run.Finished() || run.Policies[0].Status != retention.StatusAwaitingAnswer {
		tb.Fatalf("run %+v, %v", run, err)
	}
	return s, run.ID
}

func purgeAnswer(tb testing.TB, tenant string, key sender.Key, signedAt time.Time, data sender.PurgeCompleted) Delivery {
	tb.Helper()
	ev, err := sender.NewPurgeCompleted(tenant, "/services/erp", data)
	if err != nil {
		tb.Fatal(err)
	}
	return deliver(tb, ev, key, signedAt)
}

// TestPurgeAnswersOverServiceBus: a Service Bus service's answer to a purge
// command is counted once in the run's report, which it ends; a duplicate
// delivery, a second answer, an answer signed by another tenant, a replay of
// an old answer and one for an unknown run are rejected (or dropped) with
// their code, and change nothing.
func TestPurgeAnswersOverServiceBus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	s, runID := f.purgeRun(t)
	f.proc = New(Config{}, Deps{Service: f.svc, Retention: s, Logger: f.proc.d.Logger, Now: func() time.Time { return t0 }})
	done := sender.PurgeCompleted{RunID: runID, PolicyID: "erp-orders", Outcome: sender.PurgeDone, Purged: 120, Kept: 4, KeptByHold: 1}
	first := purgeAnswer(t, "acme", f.keys["acme"], t0, done)

	tests := []struct {
		name     string
		delivery Delivery
		status   Status
		code     string
	}{
		{"the answer", first, Accepted, ""},
		{"the same message again", first, Duplicate, ""},
		{"a second answer", purgeAnswer(t, "acme", f.keys["acme"], t0, done), Rejected, "purge-answered"},
		{"signed by globex about acme's run", purgeAnswer(t, "globex", f.keys["globex"], t0, done), Rejected, "unknown-purge"},
		{"signed by globex, naming acme", purgeAnswer(t, "acme", f.keys["globex"], t0, done), Rejected, "unknown-key"},
		{"a replay of an old answer", purgeAnswer(t, "acme", f.keys["acme"], t0.Add(-time.Hour), done), Rejected, "stale"},
		{"an unknown run", purgeAnswer(t, "acme", f.keys["acme"], t0, sender.PurgeCompleted{RunID: "run_9", PolicyID: "erp-orders", Outcome: sender.PurgeDone}), Rejected, "unknown-purge"},
	}
	for _, tt := range tests { // in order: each step builds on the one before
		before := f.tenantDoc(t, "acme")
		out, err := f.proc.Handle(t.Context(), tt.delivery)
		if err != nil || out.Status != tt.status || out.Code != tt.code {
			t.Fatalf("%s: %+v, %v; want %s %s", tt.name, out, err, tt.status, tt.code)
		}
		if tt.status != Accepted && !cmp.Equal(before, f.tenantDoc(t, "acme")) {
			t.Errorf("%s changed the tenant", tt.name)
		}
	}
	tn, _ := f.store.GetTenant(t.Context(), "acme")
	runs, _ := retention.Runs(tn)
	if len(runs) != 1 || !runs[0].Finished() {
		t.Fatalf("runs %+v", runs)
	}
	pr := runs[0].Policies[0]
	if got := []int64{pr.Scanned, pr.Purged, pr.KeptByService, pr.KeptByHold}; pr.Status != "done" || !slices.Equal(got, []int64{125, 120, 4, 1}) {
		t.Errorf("report %s %v", pr.Status, got)
	}
	if got := f.records(t, "acme"); !slices.Contains(got, "accepted") || !slices.Contains(got, "rejected purge-answered") || !slices.Contains(got, "rejected unknown-purge") {
		t.Errorf("acme's inbound ledger %v", got)
	}
}

// TestPurgeAnswerWithoutRetention: a deployment wired without the sweep
// refuses the answer as an unknown type.
func TestPurgeAnswerWithoutRetention(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	out, err := f.proc.Handle(t.Context(), purgeAnswer(t, "acme", f.keys["acme"], t0,
		sender.PurgeCompleted{RunID: "run_1", PolicyID: "erp-orders", Outcome: sender.PurgeDone}))
	if err != nil || out.Status != Rejected || out.Code != "unknown-type" {
		t.Errorf("%+v, %v", out, err)
	}
}

// tenantDoc is the tenant document without its ETag, for comparisons.
func (f *fixture) tenantDoc(tb testing.TB, id string) string {
	tb.Helper()
	t, err := f.store.GetTenant(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	t.ETag = ""
	b, _ := json.Marshal(t)
	return strings.TrimSpace(string(b))
}
