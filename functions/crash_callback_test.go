package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/webhook"
)

// laterServices are webhook services that answer every erasure with 202.
// With post set, a service posts its signed callback once per
// Idempotency-Key, immediately, before it answers the call: the callback
// lands while the task is still claimed. Without it, a service never posts
// (its callback job was lost).
type laterServices struct {
	post    bool
	mu      sync.Mutex
	secrets map[string][]byte
	calls   map[string]int // Idempotency-Key → calls
	effects map[string]int // task → erasures applied
	posted  []int          // status of each callback post
	bad     []string
	srv     *httptest.Server
}

func newLaterServices(t *testing.T, post bool) *laterServices {
	f := &laterServices{post: post, secrets: map[string][]byte{}, calls: map[string]int{}, effects: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *laterServices) serve(w http.ResponseWriter, r *http.Request) {
	svc := strings.TrimPrefix(r.URL.Path, "/svc/")
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	secret := f.secrets[svc]
	// New services sign calls and callbacks with keys of their own (signing version 2).
	callKey := webhook.Key{Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(secret, webhook.DirectionCall)}
	callbackKey := webhook.Key{Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(secret, webhook.DirectionCallback)}
	if err := webhook.VerifyWith(r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0, callKey); err != nil {
		f.bad = append(f.bad, svc+": "+err.Error())
		f.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var call struct {
		TaskID      string `json:"taskId"`
		Action      string `json:"action"`
		CallbackURL string `json:"callbackUrl"`
	}
	_ = json.Unmarshal(body, &call)
	key := r.Header.Get(webhook.IdempotencyHeader)
	f.calls[key]++
	first := f.calls[key] == 1
	if first && call.Action == "erase" {
		f.effects[call.TaskID]++
	}
	f.mu.Unlock()
	if first && f.post {
		res := []byte(fmt.Sprintf(`{"taskId":%q,"outcome":"done","items":1}`, call.TaskID))
		req, _ := http.NewRequest("POST", call.CallbackURL, bytes.NewReader(res))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(webhook.SignatureHeader, webhook.SignWith(time.Now(), res, callbackKey))
		status := 0
		if resp, err := httpc.Do(req); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		f.mu.Lock()
		f.posted = append(f.posted, status)
		f.mu.Unlock()
	}
	w.WriteHeader(http.StatusAccepted)
}

func (f *laterServices) configure(t *testing.T, addr, tok string) {
	t.Helper()
	settings := `{"name":"Demo Tenant","regimes":["eu-gdpr"],"establishment":["eu-gdpr"],"timeZone":"UTC","portalOrigins":[],
		"piplDays":30,"defaultDays":30,"contact":"privacy@demo.example","allowPrivateConnectors":true,"erasureGraceDays":0,"exportLinkDays":7,"lgpdSmallAgent":false}`
	if status, body := send("PUT", addr+"/api/admin/demo/settings", tok, settings, nil); status != 200 {
		t.Fatalf("settings: %d %v", status, body)
	}
	for _, name := range crashServices {
		svc := fmt.Sprintf(`{"name":%q,"kind":"webhook","actions":["erase"],"categories":["profile"],"identifiers":["email"],"url":%q}`,
			name, f.srv.URL+"/svc/"+name)
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

// TestCrashWithAnswerLaterServices kills the real process between a task's
// claim and its result while every service answers 202 (issue 15, item 1).
// A service that posts its callback once, immediately, lands it while the
// task is claimed: it is the task's result, and after the restart the
// erasure completes once, each service called for it with one key and its
// effect applied once. A service that never posts is called again after
// TASK_CALLBACK_TIMEOUT with the same Idempotency-Key, and once its
// attempts are spent the request completes partially, once.
func TestCrashWithAnswerLaterServices(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	cases := []struct {
		name, point string
		post        bool
		want        string // the request's outcome
	}{
		{"posts at once, killed after the claim", "task-claimed@1", true, "completed"},
		{"posts at once, killed after the call", "task-executed@1", true, "completed"},
		{"never posts, killed after the call", "task-executed@1", false, "partially-completed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			// One task at a time: the kill then never cuts another task's
			// callback mid-flight (a callback lost that way is the
			// never-posts case, which the last row covers).
			env := baseEnv(data, "TASK_LEASE=30s", "WEBHOOK_TIMEOUT=5s", "TASK_RETRY_BASE=1s", "TASK_CALLBACK_TIMEOUT=30s",
				"TASK_MAX_ATTEMPTS=2", "QUEUE_WORKERS=1")
			f := newLaterServices(t, tc.post)
			p := start(t, append(env, "PRIVOPS_CRASHPOINT="+tc.point))
			tok := devToken(t, env, "demo")
			f.configure(t, p.addr, tok)
			driveErase(p.addr, tok)
			if !p.waitKilled(t, 30*time.Second) {
				t.Fatalf("the process did not die at %s:\n%s", tc.point, p.out.String())
			}
			p = start(t, env)
			id := driveErase(p.addr, tok)
			if id == "" {
				t.Fatal("after the restart the request did not go through")
			}
			var r map[string]any
			for deadline := time.Now().Add(150 * time.Second); ; time.Sleep(250 * time.Millisecond) {
				_, r = send("GET", p.addr+"/api/admin/demo/requests/"+id, tok, "", nil)
				if r["status"] == tc.want && r["pendingEvents"] == 0.0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("request %v after the restart, want %s:\n%s", r, tc.want, p.out.String())
				}
			}
			wantTask := "done"
			if !tc.post {
				wantTask = "failed"
			}
			for _, x := range r["tasks"].([]any) {
				task := x.(map[string]any)
				if task["status"] != wantTask {
					t.Errorf("task %v: %v (%v)", task["id"], task["status"], task["reason"])
				}
			}
			counts := auditCounts(t, p.addr, tok)
			target := "request/" + id
			for _, action := range []string{"request.approved", "request." + tc.want} {
				if n := counts[target+" "+action]; n != 1 {
					t.Errorf("%s ×%d, want once", action, n)
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.bad) > 0 {
				t.Errorf("calls with a bad signature: %v", f.bad)
			}
			for task, n := range f.effects {
				if n != 1 {
					t.Errorf("erasure of %s applied %d times", task, n)
				}
			}
			if len(f.effects) != len(crashServices) {
				t.Errorf("%d services erased, want %d", len(f.effects), len(crashServices))
			}
			if tc.post && slices.ContainsFunc(f.posted, func(s int) bool { return s != http.StatusOK }) {
				t.Errorf("callback answers %v, want 200 each", f.posted)
			}
			if !tc.post {
				for key, n := range f.calls {
					if n != 2 {
						t.Errorf("%s called %d times with its key, want 2 (TASK_MAX_ATTEMPTS)", key, n)
					}
				}
			}
			p.stop(t)
		})
	}
}

// driveErase submits (idempotently) and approves one erasure; "" if the
// process died on the way.
func driveErase(addr, tok string) string {
	status, body := send("POST", addr+"/api/admin/demo/requests", tok, `{"type":"erase","email":"later@example.com","country":"DE"}`,
		map[string]string{"Idempotency-Key": "later-1"})
	if status != 201 && status != 200 {
		return ""
	}
	id := body["id"].(string)
	status, body = send("POST", addr+"/api/admin/demo/requests/"+id+"/approve", tok, "", nil)
	if status != 200 && !(status == 409 && body["code"] == "invalid-transition") {
		return ""
	}
	return id
}

// auditCounts counts the tenant's audit entries by "target action".
func auditCounts(t *testing.T, addr, tok string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	after := 0.0
	for {
		status, page := send("GET", fmt.Sprintf("%s/api/admin/demo/audit?limit=500&after=%d", addr, int64(after)), tok, "", nil)
		if status != 200 {
			t.Fatalf("audit: %d", status)
		}
		evs, _ := page["events"].([]any)
		if len(evs) == 0 {
			return counts
		}
		for _, e := range evs {
			ev := e.(map[string]any)
			after = ev["seq"].(float64)
			counts[ev["target"].(string)+" "+ev["action"].(string)]++
		}
	}
}
