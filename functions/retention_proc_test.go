package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/sqlite"
)

// retentionItems is the data container the process tests sweep: 200 items,
// every fourth 10 days old (not due), the others 100 days old; the subject
// of every tenth (i%10 == 1, all due) is under a legal hold.
func putRetentionItems(tb testing.TB, dataDir string, now time.Time) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dataDir, "privops.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	for i := range 200 {
		age, email := 100, fmt.Sprintf("u%d@example.com", i)
		if i%4 == 0 {
			age = 10
		}
		if i%10 == 1 {
			email = "held@example.com"
		}
		doc := fmt.Sprintf(`{"id":"p%03d","email":%q,"createdAt":%q}`, i, email, now.AddDate(0, 0, -age).UTC().Format(time.RFC3339))
		if err := db.Store().PutItem(context.Background(), "acme", "people", []byte(doc)); err != nil {
			tb.Fatal(err)
		}
	}
}

// retentionItemIDs lists the ids left in the container (the suite stopped).
func retentionItemIDs(tb testing.TB, dataDir string) []string {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dataDir, "privops.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var ids []string
	err = db.Store().ScanItemsBefore(context.Background(), "acme", "people", "/createdAt", time.Now().AddDate(1, 0, 0), "", 1000,
		func(id string, _ []byte) error { ids = append(ids, id); return nil })
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// setUpRetention onboards acme with a built-in container service, a 30-day
// policy and a subject hold, through the CLI and the admin API.
func setUpRetention(tb testing.TB, env []string) {
	tb.Helper()
	if _, stderr, err := runCLI(tb, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd"); err != nil {
		tb.Fatalf("tenant create: %v %s", err, stderr)
	}
	p := start(tb, env)
	admin := devToken(tb, env, "acme")
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/api/admin/acme/services/app", `{"name":"App","kind":"cosmos","actions":["export","erase"],"categories":["profile"],"identifiers":["email"],"container":"people","identityPaths":{"email":"/email"}}`},
		{"PUT", "/api/admin/acme/retention/policies/people", `{"category":"customer","scope":"service","service":"app","maxAgeDays":30,"from":"created","timestampPath":"/createdAt","action":"delete"}`},
		{"POST", "/api/admin/acme/holds", `{"scope":"subject","email":"held@example.com","category":"legal-claims","reason":"litigation"}`},
	} {
		if status, body := send(c.method, p.addr+c.path, admin, c.body, nil); status != 200 && status != 201 {
			tb.Fatalf("%s %s: %d %v", c.method, c.path, status, body)
		}
	}
	p.stop(tb)
}

// wantRetentionLeft is what a sweep leaves: the 50 items not due and the 20 held.
func wantRetentionLeft() []string {
	var ids []string
	for i := range 200 {
		if i%4 == 0 || i%10 == 1 {
			ids = append(ids, fmt.Sprintf("p%03d", i))
		}
	}
	return ids
}

// TestRetentionSweepSurvivesSIGKILLMidPage kills the real binary in the middle
// of a page (after the page's checkpoint, after its deletes), restarts it, and
// checks that the sweep resumes from its checkpoint: the held items and those
// not due are all there, every other is gone, and the run's report counts
// each item once.
func TestRetentionSweepSurvivesSIGKILLMidPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	for _, point := range []string{"retention-page-planned@2", "retention-page-deleted@3"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := baseEnv(dir, "DEMO_TENANT=false", "RETENTION_SCHEDULE=0 0 0 1 1 *", "RETENTION_PAGE_SIZE=10",
				"RETENTION_BUDGET=1s", "RETENTION_LEASE=11s")
			setUpRetention(t, env)
			putRetentionItems(t, dir, time.Now())

			// A dry run first: the same counts, nothing touched.
			p := start(t, env)
			admin := devToken(t, env, "acme")
			status, body := send("POST", p.addr+"/api/admin/acme/retention/preview", admin, "", nil)
			pol, _ := body["policies"].([]any)
			if status != 200 || len(pol) != 1 || fmt.Sprint(pick(pol[0], "scanned", "purged", "keptByHold", "status")) != "[150 130 20 done]" {
				t.Fatalf("preview: %d %v", status, body)
			}
			p.stop(t)
			if n := len(retentionItemIDs(t, dir)); n != 200 {
				t.Fatalf("the preview left %d of 200 items", n)
			}

			// The nightly sweep (every second here) dies in the middle of a page.
			p = start(t, append(slices.Clone(env), "RETENTION_SCHEDULE=*/1 * * * * *", "PRIVOPS_CRASHPOINT="+point))
			if !p.waitKilled(t, 30*time.Second) {
				t.Fatalf("the suite did not die at %s:\n%s", point, p.out.String())
			}
			if n := len(retentionItemIDs(t, dir)); n == 200 || n == len(wantRetentionLeft()) {
				t.Fatalf("the crash left %d items: want it in the middle of the sweep", n)
			}

			// Restarted, the redelivered job takes the run over once its lease
			// ran out and finishes it.
			p = start(t, env)
			var runs []any
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
				_, body = send("GET", p.addr+"/api/admin/acme/retention/runs", admin, "", nil)
				runs, _ = body["runs"].([]any)
				if len(runs) > 0 && pick(runs[len(runs)-1], "finishedAt")[0] != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the run did not finish after the restart: %v\n%s", body, p.out.String())
				}
			}
			first := runs[len(runs)-1]
			pol, _ = first.(map[string]any)["policies"].([]any)
			if got := fmt.Sprint(pick(pol[0], "scanned", "purged", "keptByHold", "keptByFloor", "failed", "status")); got != "[150 130 20 0 0 done]" {
				t.Errorf("report of the crashed run: %s, want each item counted once", got)
			}
			if inv, _ := first.(map[string]any)["invocations"].(float64); inv < 2 {
				t.Errorf("the run was finished in %v invocations: it was not resumed", inv)
			}
			purged := 0.0
			for _, r := range runs {
				pol, _ := r.(map[string]any)["policies"].([]any)
				purged += pick(pol[0], "purged")[0].(float64)
			}
			if purged != 130 {
				t.Errorf("runs purged %v items in all, want 130", purged)
			}
			op := operatorDevToken(t, env, "operator-viewer")
			status, opBody := send("GET", p.addr+"/api/operator/tenants/acme/retention/runs", op, "", nil)
			if status != 200 || strings.Contains(fmt.Sprint(opBody), "cursor") || len(opBody["runs"].([]any)) != len(runs) {
				t.Errorf("operator view: %d %v", status, opBody)
			}
			if chain := chainActions(t, p.addr+"/api/admin/acme/audit", admin); !slices.Contains(chain, "retention.run-finished") {
				t.Errorf("audit chain %v has no retention.run-finished", chain)
			}
			// The tombstone ledger names each purged subject once, by its
			// keyed hash, and no held one (all 130 purged items have
			// subjects of their own).
			status, tomb := send("GET", p.addr+"/api/admin/acme/tombstones?service=app", admin, "", nil)
			entries, _ := tomb["tombstones"].([]any)
			subjects := map[any]bool{}
			for _, e := range entries {
				subjects[pick(e, "subjectHash")[0]] = true
				if v := pick(e, "verification", "policy")[:2]; fmt.Sprint(v) != "[retention-purge people]" {
					t.Errorf("tombstone %v", e)
				}
			}
			if status != 200 || len(entries) != 130 || len(subjects) != 130 || strings.Contains(fmt.Sprint(tomb), "@") {
				t.Errorf("tombstones: %d, %d entries, %d subjects", status, len(entries), len(subjects))
			}
			p.stop(t)
			if diff := cmp.Diff(wantRetentionLeft(), retentionItemIDs(t, dir)); diff != "" {
				t.Errorf("items left (-want +got):\n%s", diff)
			}
		})
	}
}

// pick returns the values of keys in a decoded JSON object.
func pick(v any, keys ...string) []any {
	m, _ := v.(map[string]any)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// TestRetentionCommand runs `privops retention …` on the embedded store as an
// operator would: a policy below a legal floor is refused with the floor and
// its source, a good one is stored and audited in both chains.
func TestRetentionCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	env := baseEnv(t.TempDir(), "DEMO_TENANT=false")
	cli := func(args ...string) (string, string, error) {
		t.Helper()
		return runCLI(t, env, args...)
	}
	if _, stderr, err := cli("tenant", "create", "--id", "acme", "--name", "Acme", "--regimes", "us-ca-ccpa"); err != nil {
		t.Fatalf("tenant create: %v %s", err, stderr)
	}
	policy := `{"category":"dsr-records","scope":"suite","maxAgeDays":365,"from":"request-closed","action":"delete"}`
	_, stderr, err := cli("retention", "put", "--tenant", "acme", "--policy", "closed", "--json", policy)
	if err == nil || !strings.Contains(stderr, "below-legal-floor (field maxAgeDays)") || !strings.Contains(stderr, "11 CCR §7101") {
		t.Fatalf("a policy below the CCPA floor: %v %s", err, stderr)
	}
	out, stderr, err := cli("retention", "put", "--tenant", "acme", "--policy", "closed", "--json", strings.Replace(policy, "365", "731", 1))
	if err != nil || !strings.Contains(out, `"id": "closed"`) {
		t.Fatalf("retention put: %v %s %s", err, out, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"policies", "--tenant", "acme"}, `"maxAgeDays": 731`},
		{[]string{"floors", "--tenant", "acme"}, `"id": "us-ca-ccpa-dsr-log"`},
		{[]string{"preview", "--tenant", "acme"}, `"status": "done"`},
		{[]string{"runs", "--tenant", "acme"}, `"runs": []`},
		{[]string{"delete", "--tenant", "acme", "--policy", "closed"}, `"deleted": "closed"`},
	} {
		out, stderr, err := cli(append([]string{"retention"}, c.args...)...)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("retention %v: %v\n%s%s", c.args, err, out, stderr)
		}
	}
	if _, stderr, err := cli("retention", "delete", "--tenant", "acme", "--policy", "closed"); err == nil || !strings.Contains(stderr, "unknown-retention-policy") {
		t.Errorf("deleting it again: %v %s", err, stderr)
	}
	p := start(t, env)
	op := operatorDevToken(t, env, "operator-admin")
	want := []string{"tenant.created", "retention-policy.configured", "retention-policy.deleted"}
	if diff := cmp.Diff(want, chainActions(t, p.addr+"/api/operator/audit", op)); diff != "" {
		t.Errorf("operator chain (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, chainActions(t, p.addr+"/api/admin/acme/audit", devToken(t, env, "acme"))); diff != "" {
		t.Errorf("tenant chain (-want +got):\n%s", diff)
	}
	p.stop(t)
}

// TestRetentionLateRunAfterASuspendIsFlaggedPastDue suspends the real binary
// (SIGSTOP, as a sleeping machine or a stalled host: its clock jumps ahead
// when it resumes) across several occurrences of the sweep's schedule. On
// SIGCONT the missed occurrences collapse into one late run, flagged past
// due in the log, and the sweeps before and after it purge each item once
// and never a held one.
func TestRetentionLateRunAfterASuspendIsFlaggedPastDue(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and suspends the real binary; skipped with -short")
	}
	t.Parallel()
	dir := t.TempDir()
	env := baseEnv(dir, "DEMO_TENANT=false", "RETENTION_SCHEDULE=0 0 0 1 1 *", "RETENTION_PAGE_SIZE=10")
	setUpRetention(t, env)
	putRetentionItems(t, dir, time.Now())
	p := start(t, append(slices.Clone(env), "RETENTION_SCHEDULE=*/2 * * * * *"))
	admin := devToken(t, env, "acme")
	finished := func() []any {
		_, body := send("GET", p.addr+"/api/admin/acme/retention/runs", admin, "", nil)
		runs, _ := body["runs"].([]any)
		var out []any
		for _, r := range runs {
			if pick(r, "finishedAt")[0] != nil {
				out = append(out, r)
			}
		}
		return out
	}
	for deadline := time.Now().Add(30 * time.Second); len(finished()) == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no sweep finished:\n%s", p.out.String())
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // two occurrences or more go by
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.out.String(), "retention sweep is past due"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the late occurrence was not flagged past due:\n%s", p.out.String())
		}
	}
	time.Sleep(3 * time.Second) // the late run and one on time after it
	runs := finished()
	purged, kept := 0.0, 0.0
	for _, r := range runs {
		pol, _ := r.(map[string]any)["policies"].([]any)
		v := pick(pol[0], "purged", "keptByHold")
		purged += v[0].(float64)
		kept = v[1].(float64)
	}
	if purged != 130 || kept != 20 || len(runs) < 2 {
		t.Errorf("%d runs purged %v items in all (want 130 once), the last kept %v by hold (want 20)", len(runs), purged, kept)
	}
	p.stop(t)
	if diff := cmp.Diff(wantRetentionLeft(), retentionItemIDs(t, dir)); diff != "" {
		t.Errorf("items left (-want +got):\n%s", diff)
	}
}

// TestRetentionPurgeSurvivesSIGKILL kills the real binary right after a
// webhook service answered its purge, before the run recorded the answer.
// Restarted, the run resumes from its checkpoint and calls the purge again
// with the same Idempotency-Key (the service answers the first call's
// counts), and the report counts them once.
func TestRetentionPurgeSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	var mu sync.Mutex
	var keys []string
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		_, _ = io.WriteString(w, `{"purged":7,"kept":1}`)
	}))
	t.Cleanup(svc.Close)
	dir := t.TempDir()
	env := baseEnv(dir, "DEMO_TENANT=false", "RETENTION_SCHEDULE=0 0 0 1 1 *", "RETENTION_BUDGET=1s", "RETENTION_LEASE=11s")
	if _, stderr, err := runCLI(t, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd"); err != nil {
		t.Fatalf("tenant create: %v %s", err, stderr)
	}
	p := start(t, env)
	admin := devToken(t, env, "acme")
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/api/admin/acme/settings", `{"allowPrivateConnectors":true}`},
		{"PUT", "/api/admin/acme/services/crm", `{"name":"CRM","kind":"webhook","actions":["erase","purge"],"categories":["profile"],"identifiers":["email"],"url":"` + svc.URL + `"}`},
		{"PUT", "/api/admin/acme/retention/policies/crm", `{"category":"customer","scope":"service","service":"crm","maxAgeDays":30,"from":"created","action":"delete"}`},
	} {
		h := map[string]string{}
		if c.method == "PATCH" {
			h["Content-Type"] = "application/merge-patch+json"
		}
		if status, body := send(c.method, p.addr+c.path, admin, c.body, h); status != 200 && status != 201 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, status, body)
		}
	}
	p.stop(t)

	p = start(t, append(slices.Clone(env), "RETENTION_SCHEDULE=*/1 * * * * *", "PRIVOPS_CRASHPOINT=retention-purge-answered"))
	if !p.waitKilled(t, 30*time.Second) {
		t.Fatalf("the suite did not die after the purge answered:\n%s", p.out.String())
	}
	p = start(t, env)
	var runs []any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		_, body := send("GET", p.addr+"/api/admin/acme/retention/runs", admin, "", nil)
		runs, _ = body["runs"].([]any)
		if len(runs) == 1 && pick(runs[0], "finishedAt")[0] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not finish after the restart: %v\n%s", body, p.out.String())
		}
	}
	p.stop(t)
	pol, _ := runs[0].(map[string]any)["policies"].([]any)
	if got := fmt.Sprint(pick(pol[0], "status", "scanned", "purged", "keptByService")); got != "[done 8 7 1]" {
		t.Errorf("report: %s, want the service's counts once", got)
	}
	mu.Lock()
	defer mu.Unlock()
	id, _ := runs[0].(map[string]any)["id"].(string)
	if len(keys) < 2 || slices.ContainsFunc(keys, func(k string) bool { return k != id+"-crm-purge" }) {
		t.Errorf("Idempotency-Keys %v: want every call with %s-crm-purge, called again after the kill", keys, id)
	}
}

// TestTwoTimersOnTwoProcessesOneRuns starts two real binaries on one data
// folder whose retention timers fire at the same seconds: of each
// occurrence, one invocation takes the occurrence's timer lease and enqueues
// the jobs, the other skips, logged; the next occurrence runs again.
func TestTwoTimersOnTwoProcessesOneRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary twice; skipped with -short")
	}
	t.Parallel()
	dir := t.TempDir()
	env := baseEnv(dir, "DEMO_TENANT=false", "RETENTION_SCHEDULE=0 0 0 1 1 *")
	setUpRetention(t, env)
	timers := append(slices.Clone(env), "RETENTION_SCHEDULE=*/2 * * * * *")
	a, b := start(t, timers), start(t, timers)
	const skipped = "retention sweep skipped: another invocation holds the timer lease"
	dues := func(msg string) []string {
		var out []string
		for _, line := range strings.Split(a.out.String()+"\n"+b.out.String(), "\n") {
			var v struct{ Msg, Due string }
			if json.Unmarshal([]byte(line), &v) == nil && v.Msg == msg {
				out = append(out, v.Due)
			}
		}
		return out
	}
	for deadline := time.Now().Add(30 * time.Second); len(dues(skipped)) < 3; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 skips within 30s:\n--- a\n%s\n--- b\n%s", a.out.String(), b.out.String())
		}
	}
	a.stop(t)
	b.stop(t)
	enqueued := dues("retention sweep enqueued")
	seen := map[string]int{}
	for _, d := range enqueued {
		seen[d]++
	}
	for d, n := range seen {
		if n != 1 {
			t.Errorf("occurrence %s enqueued %d times, want once", d, n)
		}
	}
	for _, d := range dues(skipped) {
		if seen[d] != 1 {
			t.Errorf("occurrence %s was skipped but never enqueued", d)
		}
	}
	if len(seen) < 2 {
		t.Errorf("%d occurrences enqueued, want each of several", len(seen))
	}
}
