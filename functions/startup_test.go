package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMisconfiguredHandlerStopsNamingTheSetting: the Functions host restarts
// a crashing handler and keeps its stderr as error logs, so a missing or
// mistyped app setting must stop the real binary at once, with the setting's
// name on the first line of its output.
func TestMisconfiguredHandlerStopsNamingTheSetting(t *testing.T) {
	t.Parallel()
	azure := []string{"FUNCTIONS_CUSTOMHANDLER_PORT=39123", "AUTH_MODE=jwks", "AUTH_JWKS_URL=https://login.example.com/keys",
		"SECRET_KEY=" + strings.Repeat("A", 44)}
	cases := []struct {
		name    string
		env     []string
		setting string
	}{
		{"SECRET_KEY missing", []string{"FUNCTIONS_CUSTOMHANDLER_PORT=39123", "AUTH_MODE=jwks", "AUTH_JWKS_URL=https://login.example.com/keys"}, "SECRET_KEY"},
		{"CODE_TTL mistyped", append(azure, "CODE_TTL=fifteen minutes"), "CODE_TTL"},
		{"QUEUE_BACKEND misspelt", append(azure, "QUEUE_BACKEND=servicebuss"), "QUEUE_BACKEND"},
		{"OUTBOX_DISPATCH without Cosmos", append(azure, "OUTBOX_DISPATCH=changefeed"), "OUTBOX_DISPATCH"},
		{"INBOUND_QUEUE empty", append(azure, "INBOUND_QUEUE="), "INBOUND_QUEUE"},
		{"DEADLINE_WATCH_SCHEDULE not NCRONTAB", append(azure, "DEADLINE_WATCH_SCHEDULE=5 * * * *"), "DEADLINE_WATCH_SCHEDULE"},
		{"DEADLINE_WATCH_SCHEDULE standalone", []string{"DEADLINE_WATCH_SCHEDULE=every hour"}, "DEADLINE_WATCH_SCHEDULE"},
		{"AUTH_TENANT_CLAIM empty", append(azure, "AUTH_TENANT_CLAIM="), "AUTH_TENANT_CLAIM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(binary(t))
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATA_DIR=" + t.TempDir()}, tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
				t.Fatalf("exit code %d (%v), want 1", code, err)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if !strings.HasPrefix(first, "privops: ") || !strings.Contains(first, tc.setting) {
				t.Errorf("first line of stderr = %q, want it to name %s", first, tc.setting)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout before the error: %q", stdout.String())
			}
		})
	}
}
