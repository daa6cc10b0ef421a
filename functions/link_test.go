package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestPackageLinkOverHTTP runs the real binary: a subject's access request
// ends in a package; the subject's status read (with the request token) and
// the admin's read show the download link, which downloads; an admin reissue
// answers a fresh link that downloads while the earlier one no longer does,
// and is audited.
func TestPackageLinkOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary; skipped with -short")
	}
	t.Parallel()
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"items":[{"plan":"basic"}]}`)
	}))
	t.Cleanup(svc.Close)
	data := t.TempDir()
	env := baseEnv(data)
	p := start(t, env)
	tok := devToken(t, env, "demo")
	settings := `{"name":"Demo Tenant","regimes":["eu-gdpr"],"establishment":["eu-gdpr"],"timeZone":"UTC","portalOrigins":[],
		"piplDays":30,"defaultDays":30,"contact":"privacy@demo.example","allowPrivateConnectors":true,"erasureGraceDays":0,
		"exportLinkDays":7,"lgpdSmallAgent":false}`
	if status, body := send("PUT", p.addr+"/api/admin/demo/settings", tok, settings, nil); status != 200 {
		t.Fatalf("settings: %d %v", status, body)
	}
	if status, body := send("PUT", p.addr+"/api/admin/demo/services/crm", tok, `{"name":"CRM","kind":"webhook","actions":["export"],
		"categories":["profile"],"identifiers":["email"],"url":"`+svc.URL+`/crm"}`, nil); status != 201 {
		t.Fatalf("service: %d %v", status, body)
	}
	status, body := send("POST", p.addr+"/api/portal/demo/requests", "", `{"type":"access","email":"ada@example.com","country":"DE"}`, nil)
	if status != 201 {
		t.Fatalf("submit: %d %v", status, body)
	}
	id, subject := body["id"].(string), body["token"].(string)
	if status, body = send("POST", p.addr+"/api/portal/demo/requests/"+id+"/verify", subject, `{"code":"`+mailedCode(t, data)+`"}`, nil); status != 200 {
		t.Fatalf("verify: %d %v", status, body)
	}
	if status, body = send("POST", p.addr+"/api/admin/demo/requests/"+id+"/approve", tok, "", nil); status != 200 {
		t.Fatalf("approve: %d %v", status, body)
	}
	var link string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, st := send("GET", p.addr+"/api/portal/demo/requests/"+id, subject, "", nil)
		if pkg, ok := st["package"].(map[string]any); ok {
			link, _ = pkg["url"].(string)
			if pkg["expiresAt"] == nil || pkg["bytes"].(float64) <= 0 {
				t.Errorf("status read's package: %v", pkg)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no package on the status read: %v", st)
		}
	}
	if status, _ := send("GET", p.addr+"/api/portal/demo/requests/"+id, "", "", nil); status != 404 {
		t.Errorf("status read without the token: %d, want 404", status)
	}
	_, adm := send("GET", p.addr+"/api/admin/demo/requests/"+id, tok, "", nil)
	if dl, _ := adm["download"].(map[string]any); dl == nil || dl["url"] != link {
		t.Errorf("admin read's download %v, want the link %s", adm["download"], link)
	}
	if got := fetch(t, link); got != 200 {
		t.Errorf("download with the status read's link: %d", got)
	}
	time.Sleep(1100 * time.Millisecond) // the reissued link expires a second later than the first
	status, re := send("POST", p.addr+"/api/admin/demo/requests/"+id+"/package/link", tok, "", nil)
	fresh, _ := re["url"].(string)
	if status != 200 || fresh == "" || fresh == link {
		t.Fatalf("reissue: %d %v", status, re)
	}
	if got := fetch(t, fresh); got != 200 {
		t.Errorf("download with the reissued link: %d", got)
	}
	if got := fetch(t, link); got != 404 {
		t.Errorf("download with the earlier link after a reissue: %d, want 404", got)
	}
	_, st := send("GET", p.addr+"/api/portal/demo/requests/"+id, subject, "", nil)
	if pkg, _ := st["package"].(map[string]any); pkg == nil || pkg["url"] != fresh {
		t.Errorf("status read after the reissue: %v", st["package"])
	}
	_, audit := send("GET", p.addr+"/api/admin/demo/audit?limit=500", tok, "", nil)
	reissued := 0
	for _, e := range audit["events"].([]any) {
		if e.(map[string]any)["action"] == "export.link-reissued" {
			reissued++
		}
	}
	if reissued != 1 {
		t.Errorf("%d export.link-reissued audit entries, want 1", reissued)
	}
	p.stop(t)
}

// mailedCode reads the newest one-time code from the standalone mail outbox.
func mailedCode(tb testing.TB, data string) string {
	tb.Helper()
	re := regexp.MustCompile(`Your code is ([0-9]{6})`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(data, "outbox", "*.eml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if m := re.FindSubmatch(b); m != nil {
				return string(m[1])
			}
		}
	}
	tb.Fatal("no code mailed")
	return ""
}

func fetch(tb testing.TB, url string) int {
	tb.Helper()
	res, err := httpc.Get(url)
	if err != nil {
		tb.Fatal(fmt.Errorf("GET link: %w", err))
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
