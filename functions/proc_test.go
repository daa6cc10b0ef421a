package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/privops/privops/shared/config"
)

// The process tests run the real binary, built once per test run the way the
// Taskfile builds what ships (CGO_ENABLED=0, stripped): every build's folder
// is under binDir, removed by TestMain.
var (
	buildMu sync.Mutex
	binDir  string
	builds  = map[string]builtBinary{} // by build tags ("" for the full build)
)

type builtBinary struct {
	path string
	err  error
}

// hostBuilds are the builds the Taskfile and README make, by the host they are
// for (README, Builds; build.go): the full one runs under every host.
var hostBuilds = []struct{ name, tags string }{
	{"full", ""},
	{"functions", "privops_functions"},
	{"lambda", "privops_lambda"},
	{"standalone", "privops_standalone"},
}

// binary returns the full build of the suite, built on first use.
func binary(tb testing.TB) string {
	tb.Helper()
	return binaryWithTags(tb, "")
}

// binaryWithTags returns the suite built with these build tags (comma
// separated, "" for none), built on first use.
func binaryWithTags(tb testing.TB, tags string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	b, ok := builds[tags]
	if !ok {
		b = buildBinary(tags)
		builds[tags] = b
	}
	if b.err != nil {
		tb.Fatalf("build (tags %q): %v", tags, b.err)
	}
	return b.path
}

func buildBinary(tags string) builtBinary {
	if binDir == "" {
		dir, err := os.MkdirTemp("", "privops-bin-")
		if err != nil {
			return builtBinary{err: err}
		}
		binDir = dir
	}
	name := "privops"
	if tags != "" {
		name += "-" + strings.ReplaceAll(tags, ",", "-")
	}
	path := filepath.Join(binDir, name)
	cmd := exec.Command("go", "build", "-tags", tags, "-trimpath", "-ldflags", "-s -w", "-o", path, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return builtBinary{err: errors.New(string(out))}
	}
	return builtBinary{path: path}
}

// proc is a running suite.
type proc struct {
	cmd  *exec.Cmd
	addr string // http://host:port
	done chan error
	out  *syncBuffer
}

// configIn is the configuration of the environment with its data, mail outbox
// and blob folders in dataDir, for tests that build the suite in-process.
func configIn(tb testing.TB, dataDir string) *config.Config {
	tb.Helper()
	cfg, err := config.Load()
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DataDir = dataDir
	cfg.MailOutboxDir, cfg.BlobDir = filepath.Join(dataDir, "outbox"), filepath.Join(dataDir, "blobs")
	return cfg
}

// baseEnv is the environment the process tests give the binary.
func baseEnv(dataDir string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATA_DIR=" + dataDir, "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=info",
		"DEADLINE_WATCH_SCHEDULE=*/1 * * * * *", "OUTBOX_LEASE=1s", "QUEUE_LEASE=5s",
		"RATE_SUBMIT_PER_IP=1000000", "RATE_SUBMIT_PER_EMAIL=1000000", "RATE_VERIFY_PER_IP=1000000",
	}
	return append(env, extra...)
}

// start runs the binary on a free port and waits until it accepts connections.
func start(tb testing.TB, env []string) *proc {
	tb.Helper()
	return startWith(tb, binary(tb), env)
}

// startWith is start with the binary at bin.
func startWith(tb testing.TB, bin string, env []string) *proc {
	tb.Helper()
	return startIn(tb, bin, "", env)
}

// startIn is startWith in the working directory dir ("" for the test's own).
func startIn(tb testing.TB, bin, dir string, env []string) *proc {
	tb.Helper()
	p := &proc{cmd: exec.Command(bin), done: make(chan error, 1), out: &syncBuffer{}}
	p.cmd.Dir = dir
	addr := "127.0.0.1:" + strconv.Itoa(freePort(tb))
	p.cmd.Env = append(slices.Clone(env), "HTTP_ADDR="+addr) // the last value wins
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(p.out, stdout)
		close(copied)
	}()
	go func() {
		<-copied // Wait closes the pipe: read it to the end first
		p.done <- p.cmd.Wait()
	}()
	for t0 := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-p.done:
			tb.Fatalf("the suite exited before listening: %v\n%s", err, p.out.String())
		default:
		}
		if time.Since(t0) > 30*time.Second {
			_ = p.cmd.Process.Kill()
			tb.Fatalf("the suite did not start listening:\n%s", p.out.String())
		}
	}
	p.addr = "http://" + addr
	tb.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
	}
}

// waitKilled waits until the process dies and reports whether SIGKILL killed it.
func (p *proc) waitKilled(tb testing.TB, within time.Duration) bool {
	tb.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				return true
			}
		}
		return false
	case <-time.After(within):
		return false
	}
}

// stop sends SIGTERM and checks for a clean exit.
func (p *proc) stop(tb testing.TB) {
	tb.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			tb.Errorf("exit after SIGTERM: %v\n%s", err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		tb.Errorf("no exit 30s after SIGTERM")
	}
}

// devToken mints an admin token with the binary's own sub-command.
func devToken(tb testing.TB, env []string, tenant string) string {
	tb.Helper()
	cmd := exec.Command(binary(tb), "token", "--tenant", tenant, "--role", "privacy-admin", "--sub", "crash-test")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

var httpc = &http.Client{Timeout: 10 * time.Second}

// send issues a JSON call; a transport error (the process died) returns status 0.
func send(method, url, token, body string, header map[string]string) (int, map[string]any) {
	req, _ := http.NewRequest(method, url, bytes.NewBufferString(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := httpc.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}
