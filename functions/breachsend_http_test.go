package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tokenAs mints a tenant token with role with the tagged binary's own
// sub-command (after the server made its keys).
func tokenAs(tb testing.TB, env []string, tenant, role string) string {
	tb.Helper()
	cmd := exec.Command(noticeBinary(tb), "token", "--tenant", tenant, "--role", role, "--sub", "breach-test")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestBreachLaneNeverStarvesCodes: while a campaign of thousands of
// recipients is being sent (rate-limited, every breach worker busy), a data
// subject's verification code still reaches the mail server at once: breach
// mail has its own queue, workers and SMTP connections.
func TestBreachLaneNeverStarvesCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	const n = 5000
	s := &sink{}
	port := startSink(t, s)
	data := t.TempDir()
	env := baseEnv(data, "PRIVOPS_TEST_NOTICES="+writeNotices(t, data), "MAIL_BACKEND=smtp", "SMTP_HOST=127.0.0.1",
		"SMTP_PORT="+strconv.Itoa(port), "SMTP_TLS=none", "BREACH_SEND_BATCH=100", "BREACH_SEND_RATE=250", "BREACH_SEND_CONNECTIONS=2")
	p := startWith(t, noticeBinary(t), env)
	tok := devToken(t, env, "demo")
	if status, body := upload(t, p.addr, tok, "text/csv", recipientsCSV(n)); status != 200 {
		t.Fatalf("upload: %d %v", status, body)
	}
	if status, body := send("POST", p.addr+"/api/admin/demo/incidents/inc-1/notify-subjects", tok, "", nil); status != 202 {
		t.Fatalf("start: %d %v", status, body)
	}
	for deadline := time.Now().Add(20 * time.Second); s.count() < 200; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the campaign did not start sending: %d accepted\n%s", s.count(), p.out.String())
		}
	}
	submitted := time.Now()
	if status, body := send("POST", p.addr+"/api/portal/demo/requests", "", `{"type":"access","email":"subject@example.org","country":"DE"}`, nil); status != 201 {
		t.Fatalf("submit: %d %v", status, body)
	}
	for deadline := submitted.Add(5 * time.Second); len(s.snapshot()["subject@example.org"]) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no verification code within 5s while the campaign runs")
		}
	}
	waited := time.Since(submitted)
	state, prog := progressOf(t, p.addr, tok)
	if state != "sending" || prog["pending"] < 1000 {
		t.Errorf("the campaign was not in flight when the code arrived: %s %v", state, prog)
	}
	t.Logf("code accepted %s after the submission, with %v breach mails pending", waited.Round(time.Millisecond), prog["pending"])
}

// TestSubjectCampaignOverHTTP: roles and tenants are enforced, bad input is
// a precise 4xx that changes nothing, progress is readable at any time by the
// tenant and as counts by the operator, and the public notice page (JSON and
// HTML, both languages) appears only once published.
func TestSubjectCampaignOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	s := &sink{bounce: map[string]bool{"gone@example.com": true}}
	port := startSink(t, s)
	data := t.TempDir()
	env := baseEnv(data, "PRIVOPS_TEST_NOTICES="+writeNotices(t, data), "MAIL_BACKEND=smtp", "SMTP_HOST=127.0.0.1",
		"SMTP_PORT="+strconv.Itoa(port), "SMTP_TLS=none", "BREACH_SEND_RATE=0", "BREACH_RECIPIENTS_MAX=50")
	p := startWith(t, noticeBinary(t), env)
	admin := devToken(t, env, "demo")
	viewer := tokenAs(t, env, "demo", "privacy-viewer")
	other := tokenAs(t, env, "globex", "privacy-admin")
	operator := operatorDevToken(t, env, "operator-viewer")
	base := p.addr + "/api/admin/demo/incidents/inc-1"

	// Nothing yet: no campaign, no public notice.
	if status, body := send("GET", base+"/campaign", admin, "", nil); status != 404 || body["code"] != "unknown-campaign" {
		t.Errorf("campaign before upload: %d %v", status, body)
	}
	for _, tc := range []struct {
		name, tok, path, contentType, body string
		status                             int
		code                               string
	}{
		{"viewer may not upload", viewer, base + "/recipients", "text/csv", "email\na@example.com\n", 403, "forbidden-role"},
		{"another tenant", other, base + "/recipients", "text/csv", "email\na@example.com\n", 404, "unknown-tenant"},
		{"unknown incident", admin, p.addr + "/api/admin/demo/incidents/nope/recipients", "text/csv", "email\na@example.com\n", 404, "unknown-incident"},
		{"bad line", admin, base + "/recipients", "text/csv", "email\na@example.com\nsecret-at-example.com\n", 422, "invalid-recipient-email"},
		{"json", admin, base + "/recipients", "application/json", `{"email":"a@example.com"}`, 415, "unsupported-media-type"},
		{"too many", admin, base + "/recipients", "text/csv", recipientsCSV(51), 413, "too-many-recipients"},
		{"start without a list", admin, base + "/notify-subjects", "", "", 409, "no-recipients"},
		{"viewer may not start", viewer, base + "/notify-subjects", "", "", 403, "forbidden-role"},
	} {
		status, body := rawPost(t, tc.path, tc.tok, tc.contentType, tc.body)
		if status != tc.status || body["code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body["code"], tc.status, tc.code)
		}
		if detail, _ := body["detail"].(string); strings.Contains(detail, "secret") {
			t.Errorf("%s: the answer echoes the input: %s", tc.name, detail)
		}
	}
	if status, _ := send("GET", base+"/campaign", admin, "", nil); status != 404 {
		t.Errorf("bad input left a campaign: %d", status)
	}

	if status, body := upload(t, p.addr, admin, "application/x-ndjson",
		`{"email":"a@example.com","language":"zh-CN","name":"Ada"}`+"\n"+`{"email":"gone@example.com"}`+"\n"); status != 200 || body["state"] != "ready" {
		t.Fatalf("upload: %d %v", status, body)
	}
	if status, body := send("GET", base+"/campaign", viewer, "", nil); status != 200 || body["progress"].(map[string]any)["pending"] != 2.0 {
		t.Errorf("viewer reads progress: %d %v", status, body)
	}
	if status, _ := send("GET", base+"/campaign", other, "", nil); status != 404 {
		t.Errorf("another tenant reads the campaign: %d", status)
	}
	if status, body := send("POST", base+"/notify-subjects", admin, "", map[string]string{"Idempotency-Key": "k1"}); status != 202 {
		t.Fatalf("start: %d %v", status, body)
	}
	var prog map[string]float64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var state string
		if state, prog = progressOf(t, p.addr, admin); state == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done: %v", prog)
		}
	}
	if fmt.Sprint(prog) != fmt.Sprint(map[string]float64{"total": 2, "sent": 1, "failed": 1, "bounced": 1, "pending": 0}) {
		t.Errorf("progress %v", prog)
	}
	if status, body := send("POST", base+"/notify-subjects", admin, "", map[string]string{"Idempotency-Key": "k1"}); status != 200 || body["state"] != "done" {
		t.Errorf("second start: %d %v", status, body)
	}
	status, body := send("GET", p.addr+"/api/operator/tenants/demo/incidents/inc-1/campaign", operator, "", nil)
	if status != 200 || body["state"] != "done" || body["public"] != true {
		t.Errorf("operator: %d %v", status, body)
	}
	for k := range body {
		if k != "incidentId" && k != "state" && k != "progress" && k != "public" {
			t.Errorf("the operator sees %s", k)
		}
	}

	// The bounce published the public notice (Art. 34(3)(c)).
	status, body = send("GET", p.addr+"/api/notice/demo/inc-1", "", "", nil)
	if status != 200 || body["reason"] != "individual-notice-failed" || body["text"].(map[string]any)["zh-CN"] == nil {
		t.Errorf("public notice: %d %v", status, body)
	}
	req, _ := http.NewRequest("GET", p.addr+"/api/notice/demo/inc-1", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	res, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), "Notice of Data Breach") || !strings.Contains(string(page), "数据泄露通知") ||
		strings.Contains(string(page), "@example.com") {
		t.Errorf("html notice: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), page)
	}
	if status, body := send("GET", p.addr+"/api/notice/demo/nope", "", "", nil); status != 404 || body["code"] != "unknown-notice" {
		t.Errorf("unpublished notice: %d %v", status, body)
	}
	if out := p.out.String(); strings.Contains(out, "a@example.com") || strings.Contains(out, "gone@example.com") || strings.Contains(out, "Ada") {
		t.Errorf("the logs hold a recipient:\n%s", out)
	}
}

// rawPost posts body with contentType (none when empty).
func rawPost(tb testing.TB, url, tok, contentType, body string) (int, map[string]any) {
	tb.Helper()
	h := map[string]string{}
	if contentType != "" {
		h["Content-Type"] = contentType
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := httpc.Do(req)
	if err != nil {
		tb.Fatalf("post: %v", err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// TestSubjectNoticeFromTheBreachFlow: on the production binary (no test
// hook), the fan-out takes its notice from the breach flow through the
// composition root's adapter: an incident the operator declares for the
// tenant is unknown to nobody, its subject notice cannot be sent before the
// tenant approves it, and once approved every recipient gets it.
func TestSubjectNoticeFromTheBreachFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	s := &sink{}
	port := startSink(t, s)
	env := baseEnv(t.TempDir(), "MAIL_BACKEND=smtp", "SMTP_HOST=127.0.0.1", "SMTP_PORT="+strconv.Itoa(port), "SMTP_TLS=none",
		"BREACH_SEND_RATE=0")
	p := start(t, env)
	admin := devToken(t, env, "demo")
	officer := operatorDevToken(t, env, "security-officer")
	status, inc := send("POST", p.addr+"/api/operator/incidents", officer, incidentJSON(`,"tenants":["demo"]`), nil)
	if status != 201 {
		t.Fatalf("declare: %d %v", status, inc)
	}
	id, _ := inc["id"].(string)
	base := p.addr + "/api/admin/demo/incidents/" + id
	if status, body := upload(t, p.addr, admin, "text/csv", recipientsCSV(20)); status != 404 || body["code"] != "unknown-incident" {
		t.Errorf("upload to inc-1: %d %v, want unknown-incident", status, body)
	}
	status, body := rawPost(t, base+"/recipients", admin, "text/csv", recipientsCSV(20))
	if status != 200 {
		t.Fatalf("upload: %d %v", status, body)
	}
	if status, body := send("POST", base+"/notify-subjects", admin, "", nil); status != 409 || body["code"] != "notice-not-approved" {
		t.Errorf("start before approval: %d %v", status, body)
	}
	if status, body := send("POST", base+"/approve-subject-notice", admin, "", nil); status != 200 {
		t.Fatalf("approve: %d %v", status, body)
	}
	if status, body := send("POST", base+"/notify-subjects", admin, "", nil); status != 202 {
		t.Fatalf("start: %d %v", status, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, c := send("GET", base+"/campaign", admin, "", nil)
		if c["state"] == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done: %v\n%s", c, p.out.String())
		}
	}
	got := s.snapshot()
	for i := 1; i <= 20; i++ {
		if n := len(got[fmt.Sprintf("s%d@example.com", i)]); n != 1 {
			t.Errorf("s%d received %d messages, want 1", i, n)
		}
	}
}
