package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// The benchmarks' data folders live under one folder per test process (or
// under BENCH_DATA_DIR, which `task bench` sets and removes after its last
// round), removed when the process ends, not at each benchmark's end as
// b.TempDir's are. An intake benchmark creates one mail file per submission
// (thousands a run), and on this VM's ext4 without a journal a file create
// scans past every inode freed in the last 60 s (README, Tests and
// benchmarks): with b.TempDir the next benchmark, IntakeLatencyAtRate right
// after IntakeThroughput, paid for the first one's clean-up. The benchmarks
// do the same work as before (every mail file is still created and fsynced);
// only their deletion moves to where no benchmark is timed.

var benchRoot struct {
	once sync.Once
	dir  string
	own  bool // created here, so TestMain removes it
	err  error
}

// benchDataDir returns a new empty folder for b's data, kept until the test
// process ends.
func benchDataDir(b *testing.B) string {
	b.Helper()
	benchRoot.once.Do(func() {
		if d := os.Getenv("BENCH_DATA_DIR"); d != "" {
			benchRoot.dir, benchRoot.err = d, os.MkdirAll(d, 0o700)
			return
		}
		benchRoot.dir, benchRoot.err = os.MkdirTemp("", "privops-bench-")
		benchRoot.own = benchRoot.err == nil
	})
	if benchRoot.err != nil {
		b.Fatalf("benchmark data folder: %v", benchRoot.err)
	}
	dir, err := os.MkdirTemp(benchRoot.dir, strings.NewReplacer("/", "_", string(os.PathSeparator), "_").Replace(b.Name())+"-")
	if err != nil {
		b.Fatalf("benchmark data folder: %v", err)
	}
	return dir
}

// TestMain runs the tests and benchmarks, then removes what they kept until
// the end: the benchmarks' data folders (see benchDataDir) and the binaries
// built for the process tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchRoot.own {
		if err := os.RemoveAll(benchRoot.dir); err != nil {
			fmt.Fprintln(os.Stderr, "remove benchmark data:", err)
		}
	}
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}
