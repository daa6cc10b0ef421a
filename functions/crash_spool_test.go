package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCrashLosesNoCodeMail kills the real process (SIGKILL) while portal
// submissions' code mails are in the spool: before a mail is written
// (answered, its row committed, the file not yet there) and after it is
// written but before its row is deleted. After a restart every stored
// request has exactly one code mail file, whose code verifies it: no code
// mail is lost, none is sent twice.
func TestCrashLosesNoCodeMail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	for _, point := range []string{
		"code-mail-sending@3", // the third mail's row committed, its file not written
		"code-mail-sent@3",    // the third mail written, its row not yet deleted
	} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			env := baseEnv(data)
			p := start(t, append(env, "PRIVOPS_CRASHPOINT="+point))
			tokens := map[string]string{} // the answered submissions' request tokens
			for i := range 20 {
				status, body := send("POST", p.addr+"/api/portal/demo/requests", "",
					fmt.Sprintf(`{"type":"access","email":"spool%d@example.com","country":"DE"}`, i), nil)
				if status != 201 {
					break
				}
				tokens[body["id"].(string)] = body["token"].(string)
			}
			answered := len(tokens)
			if !p.waitKilled(t, 20*time.Second) {
				t.Fatalf("the process did not die at %s:\n%s", point, p.out.String())
			}
			if answered < 2 { // the third may die before its answer
				t.Fatalf("%d submissions answered before the crash, want at least 2", answered)
			}

			p = start(t, env)
			tok := devToken(t, env, "demo")
			reqs := list(t, p.addr, tok)
			if len(reqs) < answered {
				t.Fatalf("%d requests stored, %d were answered", len(reqs), answered)
			}
			outbox := filepath.Join(data, "outbox")
			for _, r := range reqs {
				id := r["id"].(string)
				code := waitCodeMail(t, outbox, id)
				tok, ok := tokens[id]
				if !ok {
					continue // stored, its answer lost in the crash: the subject has no token
				}
				status, body := send("POST", p.addr+"/api/portal/demo/requests/"+id+"/verify", tok, `{"code":"`+code+`"}`, nil)
				if status != 200 {
					t.Errorf("verify %s with its mailed code: %d %v", id, status, body)
				}
			}
			time.Sleep(300 * time.Millisecond) // a duplicate would show by now
			for _, r := range reqs {
				if n := codeMails(t, outbox, r["id"].(string)); n != 1 {
					t.Errorf("request %s has %d code mail files, want 1", r["id"], n)
				}
			}
			p.stop(t)
		})
	}
}

var mailedCodeRe = regexp.MustCompile(`Your code is ([0-9]{6})`)

// waitCodeMail waits up to 10 s for the code mail of request id and returns
// its code.
func waitCodeMail(tb testing.TB, outbox, id string) string {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(outbox, id+"-code-1.eml"))
		if m := mailedCodeRe.FindSubmatch(b); err == nil && m != nil {
			return string(m[1])
		}
	}
	tb.Fatalf("no code mail for %s", id)
	return ""
}

// codeMails counts the code mail files of request id (temporary files left
// by the kill are not mails: they start with a dot).
func codeMails(tb testing.TB, outbox, id string) int {
	tb.Helper()
	files, err := os.ReadDir(outbox)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasPrefix(f.Name(), id+"-code-") && strings.HasSuffix(f.Name(), ".eml") {
			n++
		}
	}
	return n
}
