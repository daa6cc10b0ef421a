package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of the running binary. Run with:
//
//	go test -run '^$' -bench . -benchtime 1x -count 3 ./functions/
//
// Set BENCH_SECONDS to change each load phase's length (default 5) and
// SQLITE_SYNCHRONOUS=normal to compare the durability settings.

func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 5 * time.Second
}

func benchEnv(b *testing.B) []string {
	env := baseEnv(benchDataDir(b)) // production log level: one line per request; kept until the process ends (benchdir_test.go)
	if v := os.Getenv("SQLITE_SYNCHRONOUS"); v != "" {
		env = append(env, "SQLITE_SYNCHRONOUS="+v)
	}
	return env
}

var seq atomic.Int64

// submitOnce posts one portal submission and returns its latency.
func submitOnce(c *http.Client, url string) (time.Duration, bool) {
	body := fmt.Sprintf(`{"type":"access","email":"load%d@example.com","country":"DE"}`, seq.Add(1))
	start := time.Now()
	res, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, false
	}
	var buf [512]byte
	for {
		if _, err := res.Body.Read(buf[:]); err != nil {
			break
		}
	}
	res.Body.Close()
	return time.Since(start), res.StatusCode == http.StatusCreated
}

func loadClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
}

// BenchmarkIntakeThroughput drives portal submissions (store write, audit,
// outbox, code mail to the outbox folder) with 32 concurrent clients for the
// phase length and reports sustained requests per second.
func BenchmarkIntakeThroughput(b *testing.B) {
	p := start(b, benchEnv(b))
	url := p.addr + "/api/portal/demo/requests"
	c := loadClient()
	for range 200 { // warm up connections and caches
		submitOnce(c, url)
	}
	b.ResetTimer()
	for range b.N {
		cpu0 := procCPU(p.cmd.Process.Pid)
		var ok, failed atomic.Int64
		stop := time.Now().Add(benchSeconds())
		var wg sync.WaitGroup
		begin := time.Now()
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					if _, good := submitOnce(c, url); good {
						ok.Add(1)
					} else {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(begin)
		b.ReportMetric(float64(ok.Load())/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(failed.Load()), "failed")
		reportServerCPU(b, p, cpu0, ok.Load())
	}
}

// BenchmarkIntakeLatencyAt300 sends submissions open-loop at a fixed 300
// requests per second (each on its own schedule, so a slow answer does not slow
// the sender) and reports p50 and p99 latency.
func BenchmarkIntakeLatencyAt300(b *testing.B) { intakeLatency(b, 300) }

// BenchmarkIntakeLatencyAtRate is BenchmarkIntakeLatencyAt300 at INTAKE_RATE
// requests per second: `task bench` sets it to 20 % of the RawInsert rate it
// measured just before, so the offered load is a fixed share of what the file
// system commits on this machine.
func BenchmarkIntakeLatencyAtRate(b *testing.B) {
	rate, err := strconv.Atoi(os.Getenv("INTAKE_RATE"))
	if err != nil || rate <= 0 {
		b.Skip("INTAKE_RATE (requests per second) is not set; `task bench` sets it")
	}
	intakeLatency(b, rate)
}

func intakeLatency(b *testing.B, rate int) {
	p := start(b, benchEnv(b))
	url := p.addr + "/api/portal/demo/requests"
	c := loadClient()
	for range 200 {
		submitOnce(c, url)
	}
	b.ResetTimer()
	for range b.N {
		cpu0 := procCPU(p.cmd.Process.Pid)
		n := int(benchSeconds().Seconds() * float64(rate))
		lat := make([]time.Duration, n)
		var failed atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := range n {
			time.Sleep(time.Until(t0.Add(time.Duration(i) * time.Second / time.Duration(rate))))
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, ok := submitOnce(c, url)
				if !ok {
					failed.Add(1)
				}
				lat[i] = d
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		b.ReportMetric(float64(rate), "offered-req/s")
		b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(failed.Load()), "failed")
		reportServerCPU(b, p, cpu0, int64(n)-failed.Load())
	}
}

// reportServerCPU reports the server's CPU time (user and system) since cpu0
// per answered submission, the code mails sent after the answers included
// (it waits until the spool is drained, at most 2 s): a figure that moves
// far less with the machine's load than latency does.
func reportServerCPU(b *testing.B, p *proc, cpu0 time.Duration, answered int64) {
	b.Helper()
	if answered <= 0 {
		return
	}
	last := procCPU(p.cmd.Process.Pid)
	for range 20 { // the senders are done once the process stops using CPU
		time.Sleep(100 * time.Millisecond)
		now := procCPU(p.cmd.Process.Pid)
		idle := now-last < 5*time.Millisecond
		last = now
		if idle {
			break
		}
	}
	b.ReportMetric(float64((last-cpu0).Microseconds())/1000/float64(answered), "server-cpu-ms/req")
}

// procCPU reads the user and system time pid has used from /proc (0 where
// there is no /proc).
func procCPU(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after the command name
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// BenchmarkColdStart measures exec to accepting connections (median over 15
// starts on an existing data directory), idle RSS after start, and the binary
// size, of each host's build running the standalone host.
func BenchmarkColdStart(b *testing.B) {
	for _, hb := range hostBuilds {
		b.Run("build="+hb.name, func(b *testing.B) {
			bin := binaryWithTags(b, hb.tags)
			data := benchDataDir(b)
			first := startWith(b, bin, baseEnv(data)) // creates the database and demo tenant
			first.stop(b)
			coldStarts(b, bin, func(port int) []string {
				return baseEnv(data, "HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port), "LOG_LEVEL=warn")
			})
		})
	}
}

// BenchmarkColdStartNetHTTP is the baseline of BenchmarkColdStart: the same
// measurement of a minimal net/http server (testdata/minhttp), built the same
// way.
func BenchmarkColdStartNetHTTP(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "minhttp")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./testdata/minhttp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	coldStarts(b, bin, func(port int) []string {
		return []string{"PATH=" + os.Getenv("PATH"), "HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port)}
	})
}

// coldStarts reports the median exec-to-accept time and idle RSS (300 ms after
// accepting) of bin over 15 starts, the median idle RSS 3 s after accepting
// over the last 3 of them, and its size.
func coldStarts(b *testing.B, bin string, env func(port int) []string) {
	st, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		var starts []time.Duration
		var rss, settled []float64
		for i := range 15 {
			port := freePort(b)
			cmd := exec.Command(bin)
			cmd.Env = env(port)
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			t0 := time.Now()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			for {
				conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond)
				if err == nil {
					conn.Close()
					break
				}
				if time.Since(t0) > 10*time.Second {
					_ = cmd.Process.Kill()
					b.Fatalf("no listener after 10s: %s", errOut.String())
				}
				time.Sleep(200 * time.Microsecond)
			}
			starts = append(starts, time.Since(t0))
			time.Sleep(300 * time.Millisecond) // idle
			rss = append(rss, vmRSSMB(cmd.Process.Pid))
			if i >= 12 {
				// The last three starts also stay idle for 3 s: queue
				// polls and scheduled jobs map again the pages they need.
				time.Sleep(2700 * time.Millisecond)
				settled = append(settled, vmRSSMB(cmd.Process.Pid))
			}
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}
		slices.Sort(starts)
		slices.Sort(rss)
		b.ReportMetric(float64(starts[len(starts)/2].Microseconds())/1000, "start-ms")
		b.ReportMetric(rss[len(rss)/2], "idle-rss-MB")
		slices.Sort(settled)
		b.ReportMetric(settled[len(settled)/2], "idle-rss-3s-MB")
		b.ReportMetric(float64(st.Size())/(1<<20), "binary-MB")
	}
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// vmRSSMB reads the resident set size of pid from /proc.
func vmRSSMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return -1
}
