package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashTenants are the tenants the breach crash test onboards, each with a
// primary security contact on the "db" platform service.
var crashTenants = []string{"alpha", "bravo", "charlie", "delta"}

// TestBreachCrashNotifiesEveryTenantOnce kills the real binary with SIGKILL
// between the incident's write and its tenant notices (and at the later
// steps of the fan-out), restarts it, and checks that the deadline watch
// finishes the fan-out: every affected tenant is notified, exactly once,
// counted as mail files in the outbox folder.
func TestBreachCrashNotifiesEveryTenantOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	points := []string{
		"incident-created",    // incident stored with its outbox, no notice yet
		"notice-created@2",    // two notices stored, two tenants not yet
		"incident-fanned-out", // every notice stored, none delivered
		"notice-sent@3",       // three mails sent, the third not recorded
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			breachCrashAndRecover(t, point)
		})
	}
}

// operatorToken mints a dev operator token with the binary's own sub-command.
func binaryOperatorToken(tb testing.TB, env []string, role string) string {
	tb.Helper()
	cmd := exec.Command(binary(tb), "token", "--operator", "--role", role, "--sub", "crash-test")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func breachCrashAndRecover(t *testing.T, point string) {
	data := t.TempDir()
	env := baseEnv(data)
	p := start(t, append(env, "PRIVOPS_CRASHPOINT="+point))
	admin := binaryOperatorToken(t, env, "operator-admin")
	officer := binaryOperatorToken(t, env, "security-officer")
	for _, id := range crashTenants {
		body := fmt.Sprintf(`{"id":%q,"name":%q,"breach":{"contacts":[{"email":"sec@%s.example","role":"primary","language":"en"}],"services":["db"]}}`,
			id, strings.ToUpper(id), id)
		if status, b := send("POST", p.addr+"/api/operator/tenants", admin, body, nil); status != 201 {
			t.Fatalf("onboard %s: %d %v", id, status, b)
		}
	}
	aware := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	decl := fmt.Sprintf(`{"detectedAt":%q,"awareAt":%q,"jurisdictions":["eu-gdpr"],"scope":{"services":["db"]},"title":"t","nature":"n",
		"categories":["contact details"],"subjectsApprox":10,"recordsApprox":10,"consequences":"c","measures":"m","contact":"dpo@op.example","risk":"low"}`,
		aware, aware)
	status, _ := send("POST", p.addr+"/api/operator/incidents", officer, decl, nil)
	if !p.waitKilled(t, 20*time.Second) {
		t.Fatalf("the process did not die at %s (declare answered %d):\n%s", point, status, p.out.String())
	}

	p = start(t, env)
	// The answer was lost; the officer finds the incident in the list (it
	// was registered before the crash) rather than declaring it again.
	var id string
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, page := send("GET", p.addr+"/api/operator/incidents", officer, "", nil)
		incs, _ := page["incidents"].([]any)
		if status != 200 || len(incs) != 1 {
			t.Fatalf("incidents after restart: %d %v", status, page)
		}
		inc := incs[0].(map[string]any)
		id = inc["id"].(string)
		notified := 0
		for _, tn := range crashTenants {
			if status, n := send("GET", p.addr+"/api/operator/incidents/"+id+"/tenants/"+tn, officer, "", nil); status == 200 &&
				n["notifiedAt"] != nil && n["pendingSends"] == 0.0 {
				notified++
			}
		}
		if notified == len(crashTenants) && inc["pendingTenants"] == 0.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart %d of %d tenants notified:\n%s", notified, len(crashTenants), p.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Exactly one notice mail per tenant: one file per Message-ID, and a
	// resend after the crash reuses the ID.
	files, err := os.ReadDir(filepath.Join(data, "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	perTenant := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(data, "outbox", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if ref, ok := strings.CutPrefix(strings.TrimSpace(line), "Reference: "+id+"/"); ok {
				perTenant[ref]++
			}
		}
	}
	for _, tn := range crashTenants {
		if perTenant[tn] != 1 {
			t.Errorf("tenant %s got %d notice mails, want 1 (all: %v)", tn, perTenant[tn], perTenant)
		}
	}
	// The operator's chain records the declaration once; each tenant's its notice once.
	status, chain := send("GET", p.addr+"/api/operator/audit?limit=500", officer, "", nil)
	declared := 0
	for _, e := range chain["events"].([]any) {
		if e.(map[string]any)["action"] == "incident.declared" {
			declared++
		}
	}
	if status != 200 || declared != 1 {
		t.Errorf("operator chain: %d incident.declared entries (status %d), want 1", declared, status)
	}
	p.stop(t)
}
