package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runCLI runs the real binary with args and returns its stdout, stderr and
// exit error.
func runCLI(tb testing.TB, env []string, args ...string) (string, string, error) {
	tb.Helper()
	cmd := exec.Command(binary(tb), args...)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// operatorDevToken mints an operator token with the binary's own sub-command.
func operatorDevToken(tb testing.TB, env []string, role string) string {
	tb.Helper()
	out, stderr, err := runCLI(tb, env, "token", "--operator", "--role", role, "--sub", "olga")
	if err != nil {
		tb.Fatalf("token --operator: %v %s", err, stderr)
	}
	return strings.TrimSpace(out)
}

// TestTenantCommandAsTheREADMEPrintsIt onboards a tenant with the command the
// README prints, on the embedded default, then uses it through the running
// suite; and runs the other sub-commands.
func TestTenantCommandAsTheREADMEPrintsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	env := baseEnv(t.TempDir(), "DEMO_TENANT=false")

	// privops tenant create --id acme --name "Acme Ltd"
	out, stderr, err := runCLI(t, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd")
	if err != nil {
		t.Fatalf("tenant create: %v\n%s", err, stderr)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("tenant create printed no JSON: %v\n%s", err, out)
	}
	if created["id"] != "acme" || created["name"] != "Acme Ltd" || created["status"] != "active" || created["timeZone"] != "UTC" || created["etag"] == "" {
		t.Errorf("created %v", created)
	}
	// The same id again: the code, a non-zero exit, nothing printed on stdout.
	out, stderr, err = runCLI(t, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd")
	if err == nil || out != "" || !strings.Contains(stderr, "tenant-exists") {
		t.Errorf("duplicate create: %v, stdout %q, stderr %q", err, out, stderr)
	}
	if _, stderr, err = runCLI(t, env, "tenant", "create", "--id", "acme-2", "--name", "A", "--time-zone", "Mars/Olympus"); err == nil ||
		!strings.Contains(stderr, "invalid-tenant (field timeZone)") {
		t.Errorf("bad zone: %v %q", err, stderr)
	}
	// The operator's own tenant-claim value marks operator tokens: never a tenant.
	if out, stderr, err := runCLI(t, append(env, "AUTH_OPERATOR_TENANT=ops-directory"), "tenant", "create", "--id", "ops-directory", "--name", "Ops"); err == nil ||
		out != "" || !strings.Contains(stderr, "reserved-tenant-id") {
		t.Errorf("create under AUTH_OPERATOR_TENANT: %v, stdout %q, stderr %q", err, out, stderr)
	}
	for _, args := range [][]string{
		{"tenant", "create", "--id", "globex", "--name", "Globex", "--regimes", "eu-gdpr,uk-gdpr", "--establishment", "eu-gdpr",
			"--time-zone", "Europe/London", "--pipl-days", "20", "--default-days", "40", "--contact", "privacy@globex.example",
			"--portal-origins", "https://privacy.globex.example", "--actor", "bootstrap"},
		{"tenant", "update", "--id", "globex", "--patch", `{"defaultDays":null}`},
		{"tenant", "suspend", "--id", "globex", "--reason", "trial ended"},
		{"tenant", "resume", "--id", "globex"},
	} {
		if _, stderr, err := runCLI(t, env, args...); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
	}
	out, _, err = runCLI(t, env, "tenant", "get", "--id", "globex")
	var got map[string]any
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got["defaultDays"] != 30.0 || got["piplDays"] != 20.0 || got["status"] != "active" {
		t.Errorf("tenant get: %v %s", err, out)
	}
	if _, stderr, err := runCLI(t, env, "tenant", "offboard", "--id", "globex"); err == nil || !strings.Contains(stderr, "invalid-offboard-choice") {
		t.Errorf("offboard without a choice: %v %q", err, stderr)
	}
	out, stderr, err = runCLI(t, env, "tenant", "offboard", "--id", "globex", "--choice", "delete")
	if err != nil || !strings.Contains(out, `"status": "offboarding"`) {
		t.Errorf("offboard: %v %s %s", err, out, stderr)
	}
	out, stderr, err = runCLI(t, env, "tenant", "offboarding", "--id", "globex")
	if err != nil || !strings.Contains(out, `"state": "notice-period"`) {
		t.Errorf("offboarding: %v %s %s", err, out, stderr)
	}
	out, stderr, err = runCLI(t, env, "tenant", "cancel-offboard", "--id", "globex")
	if err != nil || !strings.Contains(out, `"status": "active"`) {
		t.Errorf("cancel-offboard: %v %s %s", err, out, stderr)
	}
	out, _, _ = runCLI(t, env, "tenant", "list", "--limit", "1")
	var page struct {
		Tenants []map[string]any `json:"tenants"`
		Next    string           `json:"next"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Tenants) != 1 || page.Next != "acme" {
		t.Errorf("tenant list --limit 1: %v %s", err, out)
	}

	// The running suite serves the new tenant, and its audit shows who did what.
	p := start(t, env)
	if status, body := send("POST", p.addr+"/api/portal/acme/requests", "", `{"type":"access","email":"ada@example.com","country":"DE"}`, nil); status != http.StatusCreated {
		t.Errorf("portal submission to the new tenant: %d %v", status, body)
	}
	op := operatorDevToken(t, env, "operator-viewer")
	status, body := send("GET", p.addr+"/api/operator/audit", op, "", nil)
	var actions []string
	for _, e := range body["events"].([]any) {
		ev := e.(map[string]any)
		actions = append(actions, ev["action"].(string)+" "+ev["target"].(string)+" "+strings.SplitN(ev["actor"].(string), ":", 2)[0]+":"+
			strings.SplitN(ev["actor"].(string), ":", 3)[1])
	}
	want := []string{"tenant.created tenant/acme operator:operator-cli", "tenant.created tenant/globex operator:bootstrap",
		"tenant.updated tenant/globex operator:operator-cli", "tenant.suspended tenant/globex operator:operator-cli",
		"tenant.resumed tenant/globex operator:operator-cli", "tenant.offboarding-requested tenant/globex operator:operator-cli",
		"tenant.offboarding-cancelled tenant/globex operator:operator-cli"}
	if diff := cmp.Diff(want, actions); status != 200 || diff != "" {
		t.Errorf("operator chain %d (-want +got):\n%s", status, diff)
	}
	p.stop(t)
}

// TestTenantChangeCrashLosesNoAuditEvent SIGKILLs the real binary between a
// tenant write and its audit appends (PRIVOPS_CRASHPOINT) — the CLI's create,
// and the operator API's suspension — restarts the suite and checks that the
// hourly watch (every second here) appends each event exactly once to both
// chains, which stay valid.
func TestTenantChangeCrashLosesNoAuditEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	for _, point := range []string{"tenant-written", "tenant-audit-appended"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			env := baseEnv(t.TempDir(), "DEMO_TENANT=false")

			// 1. The CLI dies after writing the tenant.
			_, _, err := runCLI(t, append(slices.Clone(env), "PRIVOPS_CRASHPOINT="+point), "tenant", "create", "--id", "acme", "--name", "Acme Ltd")
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
				t.Fatalf("tenant create under the crash point: %v, want killed", err)
			}
			out, _, err := runCLI(t, env, "tenant", "get", "--id", "acme")
			if err != nil || !strings.Contains(out, `"pendingAuditEvents": `) || strings.Contains(out, `"pendingAuditEvents": 0`) {
				t.Fatalf("after the crash the tenant should exist with pending audit events: %v\n%s", err, out)
			}

			// 2. The suite dies in the middle of a suspension over the API.
			p := start(t, append(slices.Clone(env), "PRIVOPS_CRASHPOINT="+point+"@1", "DEADLINE_WATCH_SCHEDULE=0 0 0 1 1 *"))
			op := operatorDevToken(t, env, "operator-admin")
			send("POST", p.addr+"/api/operator/tenants/acme/suspend", op, `{"reason":"unpaid invoices"}`, nil)
			if !p.waitKilled(t, 20*time.Second) {
				t.Fatalf("the suite did not die at %s:\n%s", point, p.out.String())
			}

			// 3. Restarted, the watch finishes both leftovers.
			p = start(t, env)
			admin := devToken(t, env, "acme")
			want := []string{"tenant.created", "tenant.suspended"}
			deadline := time.Now().Add(30 * time.Second)
			for {
				opChain := chainActions(t, p.addr+"/api/operator/audit", op)
				own := chainActions(t, p.addr+"/api/admin/acme/audit", admin)
				if cmp.Equal(want, opChain) && cmp.Equal(want, own) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after restart: operator chain %v, tenant chain %v; want %v each", opChain, own, want)
				}
				time.Sleep(200 * time.Millisecond)
			}
			for _, url := range []struct{ path, tok string }{{"/api/operator/audit/verify", op}, {"/api/admin/acme/audit/verify", admin}} {
				if status, body := send("GET", p.addr+url.path, url.tok, "", nil); status != 200 || body["valid"] != true {
					t.Errorf("%s: %d %v", url.path, status, body)
				}
			}
			status, body := send("GET", p.addr+"/api/operator/tenants/acme", op, "", nil)
			if status != 200 || body["status"] != "suspended" || body["pendingAuditEvents"] != 0.0 {
				t.Errorf("tenant after recovery: %d %v", status, body)
			}
			p.stop(t)
		})
	}
}

// chainActions returns the actions of an audit chain read over HTTP.
func chainActions(tb testing.TB, url, tok string) []string {
	tb.Helper()
	status, body := send("GET", url, tok, "", nil)
	if status != 200 {
		tb.Fatalf("GET %s: %d %v", url, status, body)
	}
	var out []string
	evs, _ := body["events"].([]any)
	for _, e := range evs {
		out = append(out, e.(map[string]any)["action"].(string))
	}
	return out
}

// BenchmarkTenantCreate onboards 1,000 tenants one after another through the
// operator API of the running binary on the embedded store (each create: the
// tenant written with its audit outbox, two audit appends, the outbox
// cleared) and reports the latency's p50 and p99.
func BenchmarkTenantCreate(b *testing.B) {
	env := benchEnv(b)
	p := start(b, env)
	op := operatorDevToken(b, env, "operator-admin")
	c := loadClient()
	const creates = 1000
	var lat []time.Duration
	b.ResetTimer()
	for n := range b.N {
		for i := range creates {
			body := fmt.Sprintf(`{"id":"bench-%d-%d","name":"Bench %d","regimes":["eu-gdpr"],"timeZone":"Europe/Berlin"}`, n, i, i)
			req, _ := http.NewRequest("POST", p.addr+"/api/operator/tenants", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+op)
			t0 := time.Now()
			res, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var sink map[string]any
			_ = json.NewDecoder(res.Body).Decode(&sink)
			res.Body.Close()
			lat = append(lat, time.Since(t0))
			if res.StatusCode != http.StatusCreated {
				b.Fatalf("create %d: %d %v", i, res.StatusCode, sink)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "creates/s")
	p.stop(b)
}
