package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// The child process of TestCrashSafety finds its database and mode here.
const (
	crashPathEnv = "PRIVOPS_SQLITE_CRASH_CHILD_PATH"
	crashSyncEnv = "PRIVOPS_SQLITE_CRASH_CHILD_SYNC"
	crashTenant  = "crash"
	crashQueue   = "work"
)

// TestCrashChild is the child of TestCrashSafety, not a test of its own: it
// writes until it is killed and prints "<kind> <id>" after each commit.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashPathEnv)
	if path == "" {
		t.Skip("runs only as the child process of TestCrashSafety")
	}
	ctx := context.Background()
	db, err := Open(ctx, path, Options{Synchronous: os.Getenv(crashSyncEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, q := db.Store(), db.Queue()
	committed := func(err error, kind, id string) {
		if err != nil {
			fmt.Fprintln(os.Stderr, kind, id, err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stdout, "%s %s\n", kind, id) // unbuffered: one write per line
	}
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	for i := 0; ; i++ {
		id := fmt.Sprintf("req-%06d", i)
		r := &privacy.Request{ID: id, TenantID: crashTenant, Type: privacy.TypeErase, Status: privacy.StatusAwaitingDecision,
			Channel: privacy.ChannelPortal, ReceivedAt: at, CreatedAt: at, UpdatedAt: at,
			Due: privacy.Due{At: at.AddDate(0, 1, 0), Regime: privacy.RegimeEUGDPR}}
		committed(s.CreateRequest(ctx, r), "request", id)
		committed(s.AppendAudit(ctx, &privacy.AuditEvent{ID: "aud-" + id, TenantID: crashTenant, At: at,
			Actor: "system", Action: "request.submitted", Target: "request/" + id}), "audit", "aud-"+id)
		committed(q.Publish(ctx, crashQueue, privacy.OutMessage{ID: "msg-" + id, Body: []byte(id)}), "published", "msg-"+id)
		r.Status = privacy.StatusApproved
		committed(s.UpdateRequest(ctx, r), "updated", id)
		if i%3 == 0 {
			continue
		}
		d, err := q.Receive(ctx, crashQueue, time.Hour)
		if err != nil || d == nil {
			committed(fmt.Errorf("receive: %v, %v", d, err), "received", "")
		}
		if i%3 == 1 {
			committed(nil, "leased", d.ID) // left leased, as by a consumer that crashed
			continue
		}
		committed(q.Complete(ctx, d), "completed", d.ID)
	}
}

// TestCrashSafety kills a writing child process at a random point and checks
// that the file is intact, that every write the child reported as committed is
// there, and that the queue is consistent. A process crash loses nothing under
// either synchronous mode.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	t.Parallel()
	for _, mode := range []string{"full", "normal"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "crash.db")
			reported := runAndKill(t, path, mode, 150+rand.IntN(300))
			checkAfterCrash(t, path, reported)
		})
	}
}

// runAndKill runs the child until it reported killAfter commits, SIGKILLs it,
// and returns the ids it reported, by kind.
func runAndKill(tb testing.TB, path, mode string, killAfter int) map[string][]string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashPathEnv+"="+path, crashSyncEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("child stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start child: %v", err)
	}
	watchdog := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()

	reported := map[string][]string{}
	lines := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() { // reads to EOF, so lines written just before the kill count too
		kind, id, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		reported[kind] = append(reported[kind], id)
		if lines++; lines == killAfter {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	err = cmd.Wait()
	if lines < killAfter {
		tb.Fatalf("child stopped after %d commits (%v): %s", lines, err, stderr.Bytes())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		tb.Fatalf("child ended with %v, not by SIGKILL: %s", err, stderr.Bytes())
	}
	tb.Logf("killed the child after %d reported commits (%d requests)", lines, len(reported["request"]))
	return reported
}

// checkAfterCrash reopens the file and checks it against what the child
// reported. The child may have committed one more write that it did not get to
// report.
func checkAfterCrash(tb testing.TB, path string, reported map[string][]string) {
	tb.Helper()
	ctx := tb.Context()
	db, err := Open(ctx, path, Options{})
	if err != nil {
		tb.Fatalf("reopen after the crash: %v", err)
	}
	defer db.Close()
	var integrity []string
	rows, err := db.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		tb.Fatalf("integrity check: %v", err)
	}
	for rows.Next() {
		var line string
		_ = rows.Scan(&line)
		integrity = append(integrity, line)
	}
	rows.Close()
	if strings.Join(integrity, "\n") != "ok" {
		tb.Fatalf("integrity check: %v", integrity)
	}

	s := db.Store()
	for _, id := range reported["request"] {
		if _, err := s.GetRequest(ctx, crashTenant, id); err != nil {
			tb.Errorf("committed request %s: %v", id, err)
		}
	}
	for _, id := range reported["updated"] {
		if r, err := s.GetRequest(ctx, crashTenant, id); err != nil || r.Status != privacy.StatusApproved {
			tb.Errorf("committed update of %s: %v", id, err)
		}
	}
	checkAuditAfterCrash(tb, s, reported["audit"])
	checkQueueAfterCrash(tb, db, reported)
}

func checkAuditAfterCrash(tb testing.TB, s *Store, reported []string) {
	tb.Helper()
	var chain []privacy.AuditEvent
	for {
		page, err := s.ListAudit(tb.Context(), crashTenant, int64(len(chain)), 1000)
		if err != nil {
			tb.Fatalf("list audit: %v", err)
		}
		if len(page) == 0 {
			break
		}
		chain = append(chain, page...)
	}
	if b := privacy.VerifyChain(0, "", chain); b != nil {
		tb.Fatalf("audit chain breaks after the crash: %+v", b)
	}
	ids := map[string]bool{}
	for _, e := range chain {
		ids[e.ID] = true
	}
	for _, id := range reported {
		if !ids[id] {
			tb.Errorf("committed audit event %s is missing", id)
		}
	}
	if extra := len(chain) - len(reported); extra < 0 || extra > 1 {
		tb.Errorf("the chain holds %d events, the child reported %d", len(chain), len(reported))
	}
}

func checkQueueAfterCrash(tb testing.TB, db *DB, reported map[string][]string) {
	tb.Helper()
	type row struct {
		state  string
		leased bool
		count  int
	}
	live := map[string]row{}
	rows, err := db.r.QueryContext(tb.Context(), `SELECT m.id, m.state, m.lease IS NOT NULL, m.delivery_count,
		EXISTS (SELECT 1 FROM dedupe d WHERE d.queue = m.queue AND d.id = m.id) FROM messages m WHERE m.queue = ?`, crashQueue)
	if err != nil {
		tb.Fatalf("read messages: %v", err)
	}
	for rows.Next() {
		var id string
		var r row
		var deduped bool
		if err := rows.Scan(&id, &r.state, &r.leased, &r.count, &deduped); err != nil {
			tb.Fatalf("read messages: %v", err)
		}
		if _, dup := live[id]; dup {
			tb.Errorf("message %s is stored twice", id)
		}
		if !deduped || r.state != "ready" || r.leased != (r.count > 0) {
			tb.Errorf("message %s: deduped %v, state %s, leased %v, deliveries %d", id, deduped, r.state, r.leased, r.count)
		}
		live[id] = r
	}
	rows.Close()

	for _, id := range reported["completed"] {
		if _, ok := live[id]; ok {
			tb.Errorf("completed message %s is still queued", id)
		}
	}
	for _, id := range reported["leased"] {
		if r, ok := live[id]; !ok || !r.leased || r.count != 1 {
			tb.Errorf("leased message %s: %+v, present %v", id, r, ok)
		}
	}
	done := map[string]bool{}
	for _, id := range reported["completed"] {
		done[id] = true
	}
	missing := 0 // completed by a commit the child did not get to report
	for _, id := range reported["published"] {
		if _, ok := live[id]; !ok && !done[id] {
			missing++
		}
	}
	extra := len(live) - (len(reported["published"]) - len(reported["completed"]) - missing)
	if missing > 1 || extra < 0 || extra > 1 || missing+extra > 1 {
		tb.Errorf("queue holds %d messages; the child reported %d published and %d completed (%d missing, %d extra)",
			len(live), len(reported["published"]), len(reported["completed"]), missing, extra)
	}

	// The reopened queue works: new messages go through, old leases still hold.
	q := db.Queue()
	if err := q.Publish(tb.Context(), crashQueue, privacy.OutMessage{ID: "after-crash"}); err != nil {
		tb.Fatalf("publish after the crash: %v", err)
	}
	c, err := q.Counts(tb.Context(), crashQueue)
	if err != nil {
		tb.Fatalf("counts: %v", err)
	}
	if leased := len(reported["leased"]); c.Leased < leased || c.Leased > leased+1 || c.Visible+c.Leased != len(live)+1 {
		tb.Errorf("counts after the crash %+v; %d live messages, %d reported leased", c, len(live), leased)
	}
}
