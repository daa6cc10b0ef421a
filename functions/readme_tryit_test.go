package main

import (
	"mime"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTryItInTwoMinutes runs the README's "Try it in two minutes" shell
// block, as printed, against the real binary started with its defaults in an
// empty directory, as a newcomer would at the repository root. Only the port
// differs (a free one for 7071), and `go run ./functions` is the built binary.
// What the README says the walk shows is what the test checks.
func TestTryItInTwoMinutes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary and the README's shell block; skipped with -short")
	}
	t.Parallel()
	script := readmeShellBlock(t, "## Try it in two minutes")
	// Every host's build runs the standalone host the same: the walk holds for
	// each (README, Builds).
	for _, hb := range hostBuilds {
		t.Run("build="+hb.name, func(t *testing.T) {
			t.Parallel()
			tryItWalk(t, binaryWithTags(t, hb.tags), script)
		})
	}
}

// tryItWalk runs the README's walk against bin and checks what it says it shows.
func tryItWalk(t *testing.T, bin, script string) {
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	p := startIn(t, bin, dir, env)
	port := strings.TrimPrefix(p.addr, "http://127.0.0.1:")
	script = strings.ReplaceAll(script, "127.0.0.1:7071", "127.0.0.1:"+port)
	script = strings.ReplaceAll(script, "/tmp/sub.json", filepath.Join(dir, "sub.json"))
	// The README runs `go run ./functions token …`: the same program, built.
	prelude := "set -eu\ngo() { shift 2; \"$PRIVOPS_BIN\" \"$@\"; }\n"
	cmd := exec.Command("bash", "-c", prelude+script)
	cmd.Dir = dir
	cmd.Env = append(env, "PRIVOPS_BIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README block failed: %v\n%s\nserver:\n%s", err, out, p.out.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`"due":\{"at":"[^"]+","regime":"eu-gdpr","rule":"GDPR Art\. 12\(3\): one month from receipt`),
		regexp.MustCompile(`\{"valid":true,`),
		regexp.MustCompile(`"status":"completed"`), // the demo tenant has no services: approved completes at once
	} {
		if !want.Match(out) {
			t.Errorf("the walk's output does not show %s:\n%s", want, out)
		}
	}
	// data/outbox holds the code mail and the notices: verified, approved, completed.
	wantSubjects := []string{"Your verification code for Demo Tenant", "We received your privacy request — Demo Tenant",
		"Your privacy request is being processed — Demo Tenant", "Your privacy request is complete — Demo Tenant"}
	var mails string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mails = readOutbox(t, filepath.Join(dir, "data", "outbox"))
		missing := ""
		for _, s := range wantSubjects {
			if !strings.Contains(mails, s) {
				missing = s
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("data/outbox has no mail %q:\n%s", missing, mails)
		}
	}
}

// readmeShellBlock returns the first ```sh block after heading in README.md.
func readmeShellBlock(tb testing.TB, heading string) string {
	tb.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		tb.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		tb.Fatalf("README has no heading %q", heading)
	}
	s = s[i:]
	start := strings.Index(s, "\n```sh\n")
	if start < 0 {
		tb.Fatalf("no sh block after %q", heading)
	}
	s = s[start+len("\n```sh\n"):]
	end := strings.Index(s, "\n```")
	if end < 0 {
		tb.Fatalf("unterminated sh block after %q", heading)
	}
	return s[:end+1]
}

// readOutbox lists the decoded subjects of the mails in the local outbox
// folder, one a line.
func readOutbox(tb testing.TB, dir string) string {
	tb.Helper()
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	dec := new(mime.WordDecoder)
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		m, err := mail.ReadMessage(f)
		if err == nil {
			subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
			if err != nil {
				tb.Errorf("mail %s: subject: %v", e.Name(), err)
			}
			b.WriteString(subject + "\n")
		}
		f.Close()
	}
	return b.String()
}
