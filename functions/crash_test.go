package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrashBetweenStepsLosesNothing kills the real process with SIGKILL between
// two durable steps (PRIVOPS_CRASHPOINT), restarts it, lets the client retry as
// a real client would (same Idempotency-Key), and checks that every request
// exists once, was approved once, has both notices recorded once, mailed once
// each, and that the audit chain holds exactly one entry per step.
func TestCrashBetweenStepsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	points := []string{
		"request-created@3",  // request stored, outbox (audit + notice) not yet carried out
		"outbox-item-done@5", // half of an outbox carried out
		"outbox-cleared@4",   // outbox done, the HTTP answer not yet sent
		"request-decided@2",  // approval stored, outbox not carried out
		"notice-mailed@3",    // notice mailed, not yet recorded as sent
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			crashAndRecover(t, point)
		})
	}
}

const crashRequests = 6

func crashAndRecover(t *testing.T, point string) {
	data := t.TempDir()
	env := baseEnv(data)
	p := start(t, append(env, "PRIVOPS_CRASHPOINT="+point))
	tok := devToken(t, env, "demo")

	drive(p.addr, tok) // until the process dies at the crash point
	if !p.waitKilled(t, 20*time.Second) {
		t.Fatalf("the process did not die at %s:\n%s", point, p.out.String())
	}

	p = start(t, env)
	if ids := drive(p.addr, tok); len(ids) != crashRequests {
		t.Fatalf("after restart %d of %d requests went through", len(ids), crashRequests)
	}

	// The watch re-drives what the crash left; wait until everything settled.
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		settled, why := settledState(t, p.addr, tok)
		if settled {
			break
		}
		last = why
		if time.Now().After(deadline) {
			t.Fatalf("not settled after restart: %s\n%s", last, p.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkMails(t, filepath.Join(data, "outbox"), p.addr, tok)
	checkAudit(t, p.addr, tok)
	p.stop(t)
}

// drive submits and approves the requests (each with an idempotency key)
// until every one is approved or the process stops answering. It returns the
// ids it saw approved (or already approved).
func drive(addr, tok string) []string {
	var ids []string
	for i := range crashRequests {
		status, body := send("POST", addr+"/api/admin/demo/requests", tok,
			fmt.Sprintf(`{"type":"erase","email":"subject%d@example.com","country":"DE"}`, i),
			map[string]string{"Idempotency-Key": fmt.Sprintf("crash-%d", i)})
		if status != 201 && status != 200 {
			return ids
		}
		id := body["id"].(string)
		// Approved before the crash, its answer lost: the retry with the
		// same Idempotency-Key gets the first answer, not 409 (issue 15,
		// item 15), and nothing happens twice.
		status, body = send("POST", addr+"/api/admin/demo/requests/"+id+"/approve", tok, "",
			map[string]string{"Idempotency-Key": fmt.Sprintf("approve-%d", i)})
		if status != 200 || body["id"] != id {
			return ids
		}
		ids = append(ids, id)
	}
	return ids
}

func list(t *testing.T, addr, tok string) []map[string]any {
	t.Helper()
	status, body := send("GET", addr+"/api/admin/demo/requests?limit=200", tok, "", nil)
	if status != 200 {
		t.Fatalf("list: %d %v", status, body)
	}
	var out []map[string]any
	for _, r := range body["requests"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

func settledState(t *testing.T, addr, tok string) (bool, string) {
	reqs := list(t, addr, tok)
	if len(reqs) != crashRequests {
		return false, fmt.Sprintf("%d requests stored, want %d", len(reqs), crashRequests)
	}
	for _, r := range reqs {
		notices, _ := r["notices"].([]any)
		// The demo tenant has no services: the approval completes the request.
		if r["status"] != "completed" || r["pendingEvents"].(float64) != 0 || len(notices) != 3 {
			return false, fmt.Sprintf("request %v: status %v, pending %v, notices %d", r["id"], r["status"], r["pendingEvents"], len(notices))
		}
		kinds := map[string]int{}
		for _, n := range notices {
			kinds[n.(map[string]any)["type"].(string)]++
		}
		if kinds["verified"] != 1 || kinds["approved"] != 1 || kinds["completed"] != 1 {
			return false, fmt.Sprintf("request %v notices %v", r["id"], kinds)
		}
	}
	return true, ""
}

// checkMails: each request got exactly its two notice mails (one file per
// notice event: a resend after a crash overwrites the same file).
func checkMails(t *testing.T, outbox, addr, tok string) {
	t.Helper()
	files, err := os.ReadDir(outbox)
	if err != nil {
		t.Fatal(err)
	}
	perRequest := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(outbox, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if id, ok := strings.CutPrefix(strings.TrimSpace(line), "Reference: "); ok {
				perRequest[id]++
			}
		}
	}
	for _, r := range list(t, addr, tok) {
		if n := perRequest[r["id"].(string)]; n != 3 {
			t.Errorf("request %v has %d notice mails, want 3", r["id"], n)
		}
	}
}

// checkAudit: the chain verifies and holds one submitted and one approved entry
// per request — no step audited twice, none lost.
func checkAudit(t *testing.T, addr, tok string) {
	t.Helper()
	status, rep := send("GET", addr+"/api/admin/demo/audit/verify", tok, "", nil)
	if status != 200 || rep["valid"] != true {
		t.Fatalf("audit verify: %d %v", status, rep)
	}
	status, page := send("GET", addr+"/api/admin/demo/audit?limit=500", tok, "", nil)
	if status != 200 {
		t.Fatalf("audit: %d", status)
	}
	counts := map[string]int{}
	for _, e := range page["events"].([]any) {
		ev := e.(map[string]any)
		counts[ev["target"].(string)+" "+ev["action"].(string)]++
	}
	for _, r := range list(t, addr, tok) {
		for _, action := range []string{"request.submitted", "request.approved", "request.completed"} {
			if n := counts["request/"+r["id"].(string)+" "+action]; n != 1 {
				t.Errorf("request %v: %d %s entries, want 1", r["id"], n, action)
			}
		}
	}
}
