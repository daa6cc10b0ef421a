package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqlite"
)

// TestServiceBusPurgeSurvivesSIGKILL kills the real binary right after the
// run checkpointed a Service Bus service's purge command and before it sent
// it. Restarted, the run resumes and sends the command (once: the queue
// holds one), waits for the answer, and the service's answer delivered on
// the inbound queue lands its counts once and ends the run.
func TestServiceBusPurgeSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	env := baseEnv(dir, "DEMO_TENANT=false", "RETENTION_SCHEDULE=0 0 0 1 1 *", "RETENTION_BUDGET=1s", "RETENTION_LEASE=11s")
	if _, stderr, err := runCLI(t, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd"); err != nil {
		t.Fatalf("tenant create: %v %s", err, stderr)
	}
	p := start(t, env)
	admin := devToken(t, env, "acme")
	var svcKey sender.Key // the service's secret: what its commands are signed with
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/api/admin/acme/services/erp", `{"name":"ERP","kind":"servicebus","queue":"erp-in","actions":["erase","purge"],"categories":["billing"],"identifiers":["email"]}`},
		{"PUT", "/api/admin/acme/retention/policies/erp-orders", `{"category":"payment","scope":"service","service":"erp","maxAgeDays":400,"from":"created","action":"delete"}`},
	} {
		status, body := send(c.method, p.addr+c.path, admin, c.body, nil)
		if status != 200 && status != 201 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, status, body)
		}
		if sec, ok := body["newSecret"].(string); ok {
			b, _ := base64.StdEncoding.DecodeString(sec)
			secrets, _ := body["secrets"].([]any)
			svcKey = sender.Key{ID: fmt.Sprint(secrets[len(secrets)-1].(map[string]any)["id"]), Secret: b}
		}
	}
	status, body := send("POST", p.addr+"/api/admin/acme/inbound-keys", admin, "", nil)
	secret, err := base64.StdEncoding.DecodeString(fmt.Sprint(body["secret"]))
	if status != 201 || err != nil {
		t.Fatalf("inbound key: %d %v", status, body)
	}
	key := sender.Key{ID: fmt.Sprint(body["id"]), Secret: secret}
	p.stop(t)

	p = start(t, append(slices.Clone(env), "RETENTION_SCHEDULE=*/1 * * * * *", "PRIVOPS_CRASHPOINT=retention-purge-planned"))
	if !p.waitKilled(t, 30*time.Second) {
		t.Fatalf("the suite did not die after planning the purge command:\n%s", p.out.String())
	}
	runs := func(p *proc, done func(pol map[string]any, run map[string]any) bool) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			_, body := send("GET", p.addr+"/api/admin/acme/retention/runs", admin, "", nil)
			if rs, _ := body["runs"].([]any); len(rs) == 1 {
				run := rs[0].(map[string]any)
				if pol, _ := run["policies"].([]any); len(pol) == 1 && done(pol[0].(map[string]any), run) {
					return run
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the run did not get there: %v\n%s", body, p.out.String())
			}
		}
	}
	p = start(t, env)
	// The run is taken over once the killed invocation's lease ran out, sends
	// the command and pauses for the answer (its lease released).
	run := runs(p, func(pol, run map[string]any) bool {
		n, _ := run["invocations"].(float64)
		return pol["status"] == "awaiting-answer" && n >= 2 && run["owner"] == nil
	})
	p.stop(t)

	db, err := sqlite.Open(ctx, filepath.Join(dir, "privops.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := db.Queue()
	d, err := q.Receive(ctx, "erp-in", time.Minute)
	if err != nil || d == nil {
		t.Fatalf("no purge command on the service's queue: %v", err)
	}
	if again, err := q.Receive(ctx, "erp-in", time.Minute); err != nil || again != nil {
		t.Errorf("a second command on the queue: %+v, %v", again, err)
	}
	if err := sender.VerifyCommand([]sender.Key{svcKey}, d.Body, d.Properties[sender.SignatureProperty], time.Now(), 0); err != nil {
		t.Errorf("the command does not verify: %v", err)
	}
	var ev struct{ Data sender.PurgeCommand }
	if err := json.Unmarshal(d.Body, &ev); err != nil || ev.Data.RunID != run["id"] {
		t.Fatalf("command %s: %v", d.Body, err)
	}
	e, err := sender.NewPurgeCompleted("acme", "/services/erp", sender.PurgeCompleted{RunID: ev.Data.RunID, PolicyID: ev.Data.PolicyID,
		Outcome: sender.PurgeDone, Purged: 11, Kept: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Message(key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Delivered twice: the answer counts once.
	for i := range 2 {
		if err := q.Publish(ctx, "privops-inbound", privacy.OutMessage{ID: fmt.Sprintf("%s-%d", m.MessageID, i), Body: m.Body,
			ContentType: m.ContentType, Properties: m.Properties}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	p = start(t, env)
	run = runs(p, func(pol, run map[string]any) bool { return run["finishedAt"] != nil })
	p.stop(t)
	pol := run["policies"].([]any)[0]
	if got := fmt.Sprint(pick(pol, "status", "scanned", "purged", "keptByService", "attempts")); got != "[done 12 11 1 1]" {
		t.Errorf("report: %s, want the answer's counts once", got)
	}
}
