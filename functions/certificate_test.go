package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCertificateOverHTTP runs the real binary: an erase request completes
// at a webhook service; its certificate reads the same bytes every time, in
// JSON and as text; `privops certificate verify` accepts it with the key
// published at /api/certificates/key (as a file, PEM, or fetched) and refuses
// an edited copy or another key, saying why.
func TestCertificateOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary; skipped with -short")
	}
	t.Parallel()
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"items":2}`)
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
	if status, body := send("PUT", p.addr+"/api/admin/demo/services/crm", tok, `{"name":"CRM","kind":"webhook","actions":["erase"],
		"categories":["profile"],"identifiers":["email"],"url":"`+svc.URL+`/crm"}`, nil); status != 201 {
		t.Fatalf("service: %d %v", status, body)
	}
	status, body := send("POST", p.addr+"/api/admin/demo/requests", tok, `{"type":"erase","email":"ada@example.com","country":"DE"}`, nil)
	if status != 201 {
		t.Fatalf("submit: %d %v", status, body)
	}
	id := body["id"].(string)
	if status, body = send("POST", p.addr+"/api/admin/demo/requests/"+id+"/approve", tok, "", nil); status != 200 {
		t.Fatalf("approve: %d %v", status, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, r := send("GET", p.addr+"/api/admin/demo/requests/"+id, tok, "", nil); r["status"] == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the erase request did not complete")
		}
	}
	get := func(path, token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", p.addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := httpc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	certPath := "/api/admin/demo/requests/" + id + "/certificate"
	_, first := get(certPath, tok)
	time.Sleep(1100 * time.Millisecond) // a second later: a certificate rebuilt per read would differ
	status, second := get(certPath, tok)
	if status != 200 || !bytes.Equal(first, second) {
		t.Fatalf("two reads: %d, identical %v:\n%s\n%s", status, bytes.Equal(first, second), first, second)
	}
	if status, text := get(certPath+"?format=text", tok); status != 200 || !strings.Contains(string(text), "CERTIFICATE OF ERASE") {
		t.Errorf("text: %d %s", status, text)
	}
	_, jwks := get("/api/certificates/key", "")
	_, pemKey := get("/api/certificates/key?format=pem", "")

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cert, edited := write("cert.json", first), write("edited.json", bytes.Replace(first, []byte(`"done"`), []byte(`"held"`), 1))
	other := write("other.pem", []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"))
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for valid
	}{
		{"the published JWK set", []string{cert, "--key", write("key.json", jwks)}, ""},
		{"the published PEM", []string{"--key", write("key.pem", pemKey), cert}, ""},
		{"fetched from the deployment", []string{cert, "--url", p.addr}, ""},
		{"an edited copy", []string{edited, "--key", write("key2.json", jwks)}, "INVALID"},
		{"another key", []string{cert, "--key", other}, "INVALID: signed with a key that is not given"},
		{"no key", []string{cert}, "usage"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		err := run(t.Context(), append([]string{"certificate", "verify"}, tc.args...), &out, io.Discard)
		switch {
		case tc.wantErr == "" && (err != nil || !strings.HasPrefix(out.String(), "valid: erase request "+id)):
			t.Errorf("%s: %v, output %q", tc.name, err, out.String())
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	// The binary's exit status: 0 valid, 1 invalid with the reason on stderr.
	for file, want := range map[string]int{cert: 0, edited: 1} {
		cmd := exec.Command(binary(t), "certificate", "verify", file, "--url", p.addr)
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		if got := cmd.ProcessState.ExitCode(); got != want {
			t.Errorf("privops certificate verify %s: exit %d, want %d: %s", filepath.Base(file), got, want, out)
		}
	}
	p.stop(t)
}
