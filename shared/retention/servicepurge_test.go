package retention

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/builtin"
	"github.com/privops/privops/shared/privacy"
)

// fakeQueue is the queue port's sending side: it keeps what was published,
// one message per id (the queue's duplicate detection), and counts sends.
type fakeQueue struct {
	mu    sync.Mutex
	msgs  []privacy.OutMessage
	sends int
	fail  error
}

func (q *fakeQueue) Publish(_ context.Context, queue string, ms ...privacy.OutMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sends++
	if q.fail != nil {
		return q.fail
	}
	for _, m := range ms {
		if !slices.ContainsFunc(q.msgs, func(o privacy.OutMessage) bool { return o.ID == m.ID }) {
			q.msgs = append(q.msgs, m)
		}
	}
	return nil
}

func (q *fakeQueue) published() []privacy.OutMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.msgs)
}

var serviceSecret = bytes.Repeat([]byte{7}, 32)

// busFixture: acme with a Service Bus service "erp" (purge supported), a
// webhook service "crm" and a policy on each; the Service Bus policy comes
// first, so the webhook's runs while the first waits for its answer. ada's
// subject hold was placed with its email sealed (heldEmail opens it).
func busFixture(tb testing.TB, edit func(*privacy.Tenant)) (*sweepFixture, *fakeQueue, *Sweeper) {
	tb.Helper()
	f := newSweepFixture(tb)
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.Holds = nil
		t.Services = []privacy.Service{
			{ID: "erp", Kind: privacy.KindServiceBus, Queue: "erp-in", Actions: []privacy.Action{privacy.ActionErase, privacy.ActionPurge},
				Secrets: []privacy.ServiceSecret{{ID: "k1", Value: base64.StdEncoding.EncodeToString(serviceSecret)}}},
			{ID: "crm", Kind: privacy.KindWebhook, URL: "https://crm.example", Actions: []privacy.Action{privacy.ActionPurge}},
		}
		t.RetentionPolicies = []Policy{
			{ID: "erp-orders", Category: CategoryPayment, Scope: ScopeService, Service: "erp", MaxAgeDays: 400, From: FromCreated, Action: ActionDelete},
			{ID: "crm-customers", Category: CategoryCustomer, Scope: ScopeService, Service: "crm", MaxAgeDays: 400, From: FromLastModified, Action: ActionDelete},
		}
		if edit != nil {
			edit(t)
		}
	})
	f.tenants.docs["globex"], _ = json.Marshal(&privacy.Tenant{ID: "globex", Name: "Globex"})
	f.tenants.etags["globex"] = 1
	q := &fakeQueue{}
	s := f.sweeper(tb, nil)
	s.d.Purgers = map[privacy.ConnectorKind]privacy.Purger{
		privacy.KindServiceBus: builtin.Queue{Publisher: q, Now: f.clock.Now},
		privacy.KindWebhook:    &fakePurger{},
	}
	s.d.HeldEmail = heldEmail
	return f, q, s
}

// heldEmail stands in for the sealed email of a subject hold: the fixture's
// holds carry it in their reason ("email:<address>").
func heldEmail(_ string, h *privacy.Hold) (string, bool) {
	return strings.CutPrefix(h.Reason, "email:")
}

func (f *sweepFixture) state(tb testing.TB) State {
	tb.Helper()
	t, err := f.tenants.GetTenant(context.Background(), "acme")
	if err != nil {
		tb.Fatal(err)
	}
	st, err := decodeState(t)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// TestServiceBusPurgeSendsACommandAndCountsTheAnswer: the command goes to the
// service's queue with the purge's message id, signed with the service's
// secret (command key), no personal data in it; the run goes on with
// the webhook policy and then waits, paused, until the answer's deadline;
// the answer's counts land in the report and end the run.
func TestServiceBusPurgeSendsACommandAndCountsTheAnswer(t *testing.T) {
	t.Parallel()
	f, q, s := busFixture(t, nil)
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if run.Finished() || run.Owner != "" {
		t.Fatalf("the run does not wait for the answer, paused: %+v", run)
	}
	answerBy := sweepNow.Add(DefaultAnswerWait)
	if got := run.WaitUntil(sweepNow); !got.Equal(answerBy) {
		t.Errorf("WaitUntil = %v, want the answer's deadline %v", got, answerBy)
	}
	if diff := cmp.Diff([]string{StatusAwaitingAnswer, "done"}, []string{run.Policies[0].Status, run.Policies[1].Status}); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	msgs := q.published()
	if len(msgs) != 1 || msgs[0].ID != "run-1-erp-orders.purge" {
		t.Fatalf("published %+v", msgs)
	}
	m := msgs[0]
	if err := sender.VerifyCommand([]sender.Key{{ID: "k1", Secret: serviceSecret}}, m.Body, m.Properties[sender.SignatureProperty], sweepNow, 0); err != nil {
		t.Errorf("the command's signature: %v", err)
	}
	if err := sender.VerifyCommand([]sender.Key{{ID: "k1", Secret: serviceSecret}}, append(m.Body, ' '), m.Properties[sender.SignatureProperty], sweepNow, 0); err == nil {
		t.Error("an altered command verifies")
	}
	var ev struct {
		Type, Subject, TenantID string
		Data                    sender.PurgeCommand
	}
	if err := json.Unmarshal(m.Body, &ev); err != nil {
		t.Fatal(err)
	}
	want := sender.PurgeCommand{PurgeID: "run-1-erp-orders", RunID: "run-1", PolicyID: "erp-orders", Category: CategoryPayment,
		From: FromCreated, Cutoff: sweepNow.AddDate(0, 0, -400).Format(time.RFC3339), AnswerBy: answerBy.Format(time.RFC3339)}
	if diff := cmp.Diff(want, ev.Data); diff != "" || ev.Type != sender.PurgeCommandType || ev.TenantID != "acme" {
		t.Errorf("command %s %s (-want +got):\n%s", ev.Type, ev.TenantID, diff)
	}

	a := PurgeAnswer{ID: "ce-1", RunID: "run-1", PolicyID: "erp-orders", Purged: 100, Kept: 3, KeptByHold: 2}
	if err := s.RecordPurgeAnswer(t.Context(), "acme", a); err != nil {
		t.Fatal(err)
	}
	st := f.state(t)
	if st.Current != nil || len(st.Recent) != 1 {
		t.Fatalf("the last answer did not end the run: %+v", st)
	}
	pr := st.Recent[0].Policies[0]
	if diff := cmp.Diff(purgeCounts{"erp-orders", "done", 105, 100, 3}, purgeCountsOf([]PolicyReport{pr})[0]); diff != "" || pr.KeptByHold != 2 {
		t.Errorf("report (-want +got):\n%s keptByHold %d", diff, pr.KeptByHold)
	}
	if fin := f.audited("retention.run-finished"); len(fin) != 1 || fin[0].Details["purged"] != "140" || fin[0].Details["failedPolicies"] != "0" {
		t.Errorf("audit %+v", fin)
	}
	// The deadline's continuation then finds nothing to do.
	res, err := s.Job(t.Context(), "acme", "c", sweepNow.Add(-time.Hour), time.Hour)
	if err != nil || res.Run != nil || res.More {
		t.Errorf("continuation after the run ended: %+v, %v", res, err)
	}
}

// TestServiceBusPurgeAnswerRefusals: an answer is counted once and only for
// a purge the run waits on; every refusal changes nothing.
func TestServiceBusPurgeAnswerRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(tb testing.TB, f *sweepFixture, s *Sweeper) // after the run sent its command
		tenant  string
		answer  PurgeAnswer
		code    string // "" = accepted without a change (a redelivery)
		changes bool
	}{
		{name: "another tenant's answer", tenant: "globex", answer: PurgeAnswer{ID: "ce-x", RunID: "run-1", PolicyID: "erp-orders"}, code: "unknown-purge"},
		{name: "unknown run", tenant: "acme", answer: PurgeAnswer{ID: "ce-x", RunID: "run-9", PolicyID: "erp-orders"}, code: "unknown-purge"},
		{name: "unknown policy", tenant: "acme", answer: PurgeAnswer{ID: "ce-x", RunID: "run-1", PolicyID: "nope"}, code: "unknown-purge"},
		{name: "a policy that sent no command", tenant: "acme", answer: PurgeAnswer{ID: "ce-x", RunID: "run-1", PolicyID: "crm-customers"}, code: "unknown-purge"},
		{name: "a dry run's answer to the run", tenant: "acme", answer: PurgeAnswer{ID: "ce-x", RunID: "run-1", PolicyID: "erp-orders", DryRun: true}, code: "unknown-purge"},
		{name: "a duplicate of the counted answer", tenant: "acme", answer: PurgeAnswer{ID: "ce-1", RunID: "run-1", PolicyID: "erp-orders", Purged: 999},
			setup: answered},
		{name: "a second answer", tenant: "acme", answer: PurgeAnswer{ID: "ce-2", RunID: "run-1", PolicyID: "erp-orders", Purged: 999},
			setup: answered, code: "purge-answered"},
		{name: "an answer after the deadline", tenant: "acme", answer: PurgeAnswer{ID: "ce-2", RunID: "run-1", PolicyID: "erp-orders", Purged: 999},
			setup: deadlinePassed, code: "purge-not-awaited"},
		{name: "an answer after the run finished", tenant: "acme", answer: PurgeAnswer{ID: "ce-2", RunID: "run-1", PolicyID: "erp-orders", Purged: 999},
			setup: func(tb testing.TB, f *sweepFixture, s *Sweeper) {
				deadlinePassed(tb, f, s)
				// The next night's run started: run-1 is history.
				f.clock.set(sweepNow.Add(24 * time.Hour))
				if _, err := s.Job(context.Background(), "acme", "n", sweepNow.Add(24*time.Hour), time.Hour); err != nil {
					tb.Fatal(err)
				}
			}, code: "purge-not-awaited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _, s := busFixture(t, nil)
			if _, err := s.Run(t.Context(), "acme", "a", time.Hour); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, f, s)
			}
			before := f.snapshot()
			audits := len(f.flushed)
			err := s.RecordPurgeAnswer(t.Context(), tt.tenant, tt.answer)
			if got := codeOf(err); got != tt.code {
				t.Fatalf("RecordPurgeAnswer = %v, want code %q", err, tt.code)
			}
			if diff := cmp.Diff(before, f.snapshot()); diff != "" {
				t.Errorf("a refused or repeated answer changed the store (-before +after):\n%s", diff)
			}
			if len(f.flushed) != audits {
				t.Errorf("audit events appended: %+v", f.flushed[audits:])
			}
		})
	}
}

func answered(tb testing.TB, f *sweepFixture, s *Sweeper) {
	tb.Helper()
	if err := s.RecordPurgeAnswer(context.Background(), "acme", PurgeAnswer{ID: "ce-1", RunID: "run-1", PolicyID: "erp-orders", Purged: 5}); err != nil {
		tb.Fatal(err)
	}
}

// deadlinePassed lets the answer's deadline pass and runs the continuation:
// the policy is reported no-answer and the run ends.
func deadlinePassed(tb testing.TB, f *sweepFixture, s *Sweeper) {
	tb.Helper()
	f.clock.set(sweepNow.Add(DefaultAnswerWait + time.Second))
	if _, err := s.Job(context.Background(), "acme", "c", sweepNow, time.Hour); err != nil {
		tb.Fatal(err)
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	if pe, ok := privacy.AsError(err); ok {
		return pe.Code
	}
	return "error: " + err.Error()
}

// snapshot is every stored tenant document, for before/after comparisons.
func (f *sweepFixture) snapshot() map[string]string {
	f.tenants.mu.Lock()
	defer f.tenants.mu.Unlock()
	out := map[string]string{}
	for id, b := range f.tenants.docs {
		out[id] = string(b)
	}
	return out
}

// TestServiceBusPurgeNoAnswer: what moves a run on when the answer never
// comes is the job's continuation at the deadline: the policy is reported
// no-answer, a failed policy in the run's audit event, never done.
func TestServiceBusPurgeNoAnswer(t *testing.T) {
	t.Parallel()
	f, _, s := busFixture(t, nil)
	res, err := s.Job(t.Context(), "acme", "a", sweepNow, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	answerBy := sweepNow.Add(DefaultAnswerWait)
	if res.More || !res.WaitUntil.Equal(answerBy) {
		t.Fatalf("the job does not schedule its continuation for the deadline: %+v", res)
	}
	// Before the deadline a continuation (an early one, a redelivery) waits again.
	f.clock.set(answerBy.Add(-time.Minute))
	if res, err = s.Job(t.Context(), "acme", "b", sweepNow, time.Hour); err != nil || !res.WaitUntil.Equal(answerBy) || res.Run.Finished() {
		t.Fatalf("before the deadline: %+v, %v", res, err)
	}
	f.clock.set(answerBy)
	if res, err = s.Job(t.Context(), "acme", "c", sweepNow, time.Hour); err != nil || !res.Run.Finished() {
		t.Fatalf("at the deadline: %+v, %v", res, err)
	}
	pr := res.Run.Policies[0]
	if pr.Status != StatusNoAnswer || !strings.Contains(pr.Reason, "no answer") || pr.Purged != 0 {
		t.Errorf("report %+v", pr)
	}
	if fin := f.audited("retention.run-finished"); len(fin) != 1 || fin[0].Details["failedPolicies"] != "1" {
		t.Errorf("audit %+v", fin)
	}
}

// TestServiceBusPurgeCrashBetweenCheckpointAndSend: a crash after the
// command was checkpointed (before or after it was sent) sends it again
// under the same message id, with the same deadline: the queue keeps one.
func TestServiceBusPurgeCrashBetweenCheckpointAndSend(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"retention-purge-planned", "retention-purge-sent"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			f, q, s := busFixture(t, nil)
			s.d.Step = crashAt(step, 1)
			func() {
				defer func() {
					if _, ok := recover().(crash); !ok {
						t.Fatal("did not crash")
					}
				}()
				_, _ = s.Run(t.Context(), "acme", "a", time.Hour)
			}()
			s.d.Step = func(string) {}
			f.clock.set(sweepNow.Add(11 * time.Minute)) // the lease ran out
			run, err := s.Run(t.Context(), "acme", "b", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if msgs := q.published(); len(msgs) != 1 || !run.Policies[0].AnswerBy.Equal(sweepNow.Add(DefaultAnswerWait)) {
				t.Errorf("after the crash: %d distinct commands, answer by %v", len(msgs), run.Policies[0].AnswerBy)
			}
			if run.Policies[0].Status != StatusAwaitingAnswer || run.Policies[1].Status != "done" {
				t.Errorf("statuses %s %s", run.Policies[0].Status, run.Policies[1].Status)
			}
		})
	}
}

// TestServiceBusAnswerWhileTheSweepRuns: an answer recorded while the sweep
// still works on other policies is kept by the sweep's next checkpoint
// (written over the fresher document) and counted once.
func TestServiceBusAnswerWhileTheSweepRuns(t *testing.T) {
	t.Parallel()
	f, _, s := busFixture(t, nil)
	s.d.Step = func(name string) {
		if name == "retention-purge-sent" {
			if err := s.RecordPurgeAnswer(context.Background(), "acme", PurgeAnswer{ID: "ce-1", RunID: "run-1", PolicyID: "erp-orders", Purged: 7}); err != nil {
				t.Error(err)
			}
		}
	}
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run %+v, %v", run, err)
	}
	if pr := run.Policies[0]; pr.Status != "done" || pr.Purged != 7 || pr.Answer != "ce-1" {
		t.Errorf("report %+v", pr)
	}
	if fin := f.audited("retention.run-finished"); len(fin) != 1 || fin[0].Details["purged"] != "47" {
		t.Errorf("audit %+v", fin)
	}
}

// TestServiceBusPurgeWithoutASecret: a command that cannot be signed is not
// sent; the policy fails with the reason and the run goes on.
func TestServiceBusPurgeWithoutASecret(t *testing.T) {
	t.Parallel()
	_, q, s := busFixture(t, func(t *privacy.Tenant) { t.Services[0].Secrets = nil })
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run %+v, %v", run, err)
	}
	if pr := run.Policies[0]; pr.Status != "failed" || !strings.Contains(pr.Reason, "no secret") || len(q.published()) != 0 {
		t.Errorf("report %+v", pr)
	}
}

// TestServiceBusPurgeTransientSendFailure: a queue that is down keeps the
// run's place; the redelivered job sends the command.
func TestServiceBusPurgeTransientSendFailure(t *testing.T) {
	t.Parallel()
	f, q, s := busFixture(t, nil)
	q.fail = privacy.ErrUnavailable
	if _, err := s.Run(t.Context(), "acme", "a", time.Hour); !errors.Is(err, privacy.ErrUnavailable) {
		t.Fatalf("Run = %v, want the transient error", err)
	}
	q.fail = nil
	run, err := s.Run(t.Context(), "acme", "b", time.Hour)
	if err != nil || len(q.published()) != 1 || run.Policies[0].Status != StatusAwaitingAnswer {
		t.Fatalf("after the queue came back: %+v, %v", run, err)
	}
	_ = f
}
