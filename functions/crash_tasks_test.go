package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/webhook"
)

// fakeServices are webhook services in the test process: they check each
// call's signature with the secret privops issued, apply an erasure once per
// Idempotency-Key, answer a lookup by whether the subject is still there, and
// export one item per subject.
type fakeServices struct {
	mu      sync.Mutex
	secrets map[string][]byte // service → signing secret
	erased  map[string]bool   // service/email → erased
	calls   map[string]int    // Idempotency-Key → calls
	effects map[string]int    // service/task → erasures applied
	bad     []string          // signature failures
	srv     *httptest.Server
}

func newFakeServices(t *testing.T) *fakeServices {
	f := &fakeServices{secrets: map[string][]byte{}, erased: map[string]bool{}, calls: map[string]int{}, effects: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServices) serve(w http.ResponseWriter, r *http.Request) {
	svc := strings.TrimPrefix(r.URL.Path, "/svc/")
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	// New services sign calls with the call key (signing version 2).
	callKey := webhook.Key{Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(f.secrets[svc], webhook.DirectionCall)}
	if err := webhook.VerifyWith(r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0, callKey); err != nil {
		f.bad = append(f.bad, svc+": "+err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var call struct {
		TaskID      string            `json:"taskId"`
		Action      string            `json:"action"`
		Identifiers map[string]string `json:"identifiers"`
	}
	_ = json.Unmarshal(body, &call)
	key := r.Header.Get(webhook.IdempotencyHeader)
	f.calls[key]++
	subject := svc + "/" + call.Identifiers["email"]
	switch call.Action {
	case "erase":
		if f.calls[key] == 1 { // the same key again is a retry: no second effect
			f.effects[svc+"/"+call.TaskID]++
			f.erased[subject] = true
		}
		_, _ = io.WriteString(w, `{"items":1}`)
	case "lookup":
		if f.erased[subject] {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, `{"items":1}`)
	case "export":
		fmt.Fprintf(w, `{"items":[{"service":%q,"plan":"basic","visits":3}]}`, svc)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

var crashServices = []string{"crm", "billing", "support"}

// configure makes the demo tenant's services point at the fakes (once: the
// configuration is stored and survives restarts).
func (f *fakeServices) configure(t *testing.T, addr, tok string) {
	t.Helper()
	grace := 0
	settings := map[string]any{"name": "Demo Tenant", "regimes": []string{"eu-gdpr"}, "establishment": []string{"eu-gdpr"},
		"timeZone": "UTC", "portalOrigins": []string{}, "piplDays": 30, "defaultDays": 30, "contact": "privacy@demo.example",
		"allowPrivateConnectors": true, "erasureGraceDays": grace, "exportLinkDays": 7, "lgpdSmallAgent": false}
	b, _ := json.Marshal(settings)
	if status, body := send("PUT", addr+"/api/admin/demo/settings", tok, string(b), nil); status != 200 {
		t.Fatalf("settings: %d %v", status, body)
	}
	for _, name := range crashServices {
		svc := fmt.Sprintf(`{"name":%q,"kind":"webhook","actions":["export","erase","lookup"],"categories":["profile","usage"],
			"identifiers":["email"],"url":%q}`, name, f.srv.URL+"/svc/"+name)
		status, body := send("PUT", addr+"/api/admin/demo/services/"+name, tok, svc, nil)
		if status != 201 {
			t.Fatalf("service %s: %d %v", name, status, body)
		}
		secret, err := base64.StdEncoding.DecodeString(body["newSecret"].(string))
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.secrets[name] = secret
		f.mu.Unlock()
	}
}

// TestCrashDuringTasksLosesNothing kills the real process with SIGKILL in the
// middle of fan-out, of task execution, of fan-in and of packaging; restarts
// it; and checks that every request ends exactly once with every task done
// once: one completion audit entry and notice per request, one task.done per
// task, one tombstone per erased service, and each erasure applied once at
// the service (a retried call carries the same Idempotency-Key).
func TestCrashDuringTasksLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	points := []string{
		"request-decided@2",  // approval and its tasks stored, task messages not yet published
		"outbox-item-done@4", // some task messages published
		"task-claimed@5",     // a task claimed, its service not yet called
		"task-executed@7",    // a service called, the result not yet recorded
		"task-recorded@9",    // some tasks recorded, fan-in under way
		"package-stored@1",   // an export package stored, not yet recorded
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			crashTasksAndRecover(t, point)
		})
	}
}

const taskRequests = 4 // alternately erase and access

func crashTasksAndRecover(t *testing.T, point string) {
	data := t.TempDir()
	env := baseEnv(data, "TASK_LEASE=30s", "WEBHOOK_TIMEOUT=5s", "TASK_RETRY_BASE=1s")
	f := newFakeServices(t)
	p := start(t, append(env, "PRIVOPS_CRASHPOINT="+point))
	tok := devToken(t, env, "demo")
	f.configure(t, p.addr, tok)

	driveTasks(p.addr, tok)
	if !p.waitKilled(t, 30*time.Second) {
		t.Fatalf("the process did not die at %s:\n%s", point, p.out.String())
	}
	p = start(t, env)
	if ids := driveTasks(p.addr, tok); len(ids) != taskRequests {
		t.Fatalf("after restart %d of %d requests went through", len(ids), taskRequests)
	}
	deadline := time.Now().Add(90 * time.Second) // a lost claim waits for its 30 s lease
	for {
		ok, why := tasksSettled(t, p.addr, tok)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled after restart: %s\n%s", why, p.out.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	checkTaskAudit(t, p.addr, tok)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bad) > 0 {
		t.Errorf("calls with a bad signature: %v", f.bad)
	}
	var over []string
	for k, n := range f.effects {
		if n != 1 {
			over = append(over, fmt.Sprintf("%s=%d", k, n))
		}
	}
	if len(f.effects) != taskRequests/2*len(crashServices) || len(over) > 0 {
		t.Errorf("erasures applied: %d distinct (want %d), applied more than once: %v", len(f.effects), taskRequests/2*len(crashServices), over)
	}
	p.stop(t)
}

func driveTasks(addr, tok string) []string {
	var ids []string
	for i := range taskRequests {
		typ := "erase"
		if i%2 == 1 {
			typ = "access"
		}
		status, body := send("POST", addr+"/api/admin/demo/requests", tok,
			fmt.Sprintf(`{"type":%q,"email":"subject%d@example.com","country":"DE"}`, typ, i),
			map[string]string{"Idempotency-Key": fmt.Sprintf("tasks-%d", i)})
		if status != 201 && status != 200 {
			return ids
		}
		id := body["id"].(string)
		status, body = send("POST", addr+"/api/admin/demo/requests/"+id+"/approve", tok, "", nil)
		if status != 200 && !(status == 409 && body["code"] == "invalid-transition") {
			return ids
		}
		ids = append(ids, id)
	}
	return ids
}

func tasksSettled(t *testing.T, addr, tok string) (bool, string) {
	reqs := list(t, addr, tok)
	if len(reqs) != taskRequests {
		return false, fmt.Sprintf("%d requests stored", len(reqs))
	}
	for _, r := range reqs {
		tasks, _ := r["tasks"].([]any)
		notices, _ := r["notices"].([]any)
		if r["status"] != "completed" || r["pendingEvents"].(float64) != 0 || len(tasks) != len(crashServices) || len(notices) != 3 {
			return false, fmt.Sprintf("request %v: status %v, pending %v, tasks %d, notices %v", r["id"], r["status"], r["pendingEvents"], len(tasks), notices)
		}
		for _, x := range tasks {
			task := x.(map[string]any)
			if task["status"] != "done" {
				return false, fmt.Sprintf("task %v: %v", task["id"], task["status"])
			}
			if task["action"] == "erase" && task["verification"] != "absent" {
				return false, fmt.Sprintf("task %v: verification %v", task["id"], task["verification"])
			}
		}
		if r["type"] == "access" && r["package"] == nil {
			return false, fmt.Sprintf("request %v: no package", r["id"])
		}
	}
	return true, ""
}

// checkTaskAudit: the chain verifies; each request completed once, each task
// recorded done once, each erased service tombstoned once.
func checkTaskAudit(t *testing.T, addr, tok string) {
	t.Helper()
	status, rep := send("GET", addr+"/api/admin/demo/audit/verify", tok, "", nil)
	if status != 200 || rep["valid"] != true {
		t.Fatalf("audit verify: %d %v", status, rep)
	}
	counts := map[string]int{}
	after := 0.0
	for {
		status, page := send("GET", fmt.Sprintf("%s/api/admin/demo/audit?limit=500&after=%d", addr, int64(after)), tok, "", nil)
		if status != 200 {
			t.Fatalf("audit: %d", status)
		}
		evs, _ := page["events"].([]any)
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			ev := e.(map[string]any)
			after = ev["seq"].(float64)
			key := ev["target"].(string) + " " + ev["action"].(string)
			if d, ok := ev["details"].(map[string]any); ok && d["task"] != nil {
				key += " " + d["task"].(string)
			}
			counts[key]++
		}
	}
	var wrong []string
	for _, r := range list(t, addr, tok) {
		target := "request/" + r["id"].(string)
		for _, action := range []string{"request.submitted", "request.approved", "request.fanned-out", "request.completed"} {
			if n := counts[target+" "+action]; n != 1 {
				wrong = append(wrong, fmt.Sprintf("%s %s ×%d", target, action, n))
			}
		}
		for _, x := range r["tasks"].([]any) {
			id := x.(map[string]any)["id"].(string)
			if n := counts[target+" task.done "+id]; n != 1 {
				wrong = append(wrong, fmt.Sprintf("%s task.done ×%d", id, n))
			}
			if r["type"] == "erase" {
				if n := counts[target+" subject.erased "+id]; n != 1 {
					wrong = append(wrong, fmt.Sprintf("%s tombstone ×%d", id, n))
				}
			}
		}
	}
	sort.Strings(wrong)
	if len(wrong) > 0 {
		t.Errorf("audit entries not exactly once:\n%s", strings.Join(wrong, "\n"))
	}
}
