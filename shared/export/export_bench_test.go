package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/export"
)

// The package benchmarks stream about 1 GiB of generated service exports.
// EXPORT_BENCH_BYTES sets the total (bytes, or with a K, M or G suffix for
// KiB, MiB, GiB) for a quicker run. VmHWM, the peak RSS, is process-wide: the
// benchmarks reset it through /proc/self/clear_refs where Linux allows, and
// are best run one per invocation with -benchtime 1x:
//
//	go test -run '^$' -bench 'Package1GB' -benchtime 1x -count 3 ./shared/export/
//	go test -run '^$' -bench 'FileCopy1GB' -benchtime 1x -count 3 ./shared/export/

// BenchmarkPackage1GB writes the package of four services (two flat, each
// with a CSV file beside its JSON file, two nested) to a file. MB/s counts
// the stored exports once.
func BenchmarkPackage1GB(b *testing.B) {
	total := benchBytes(b)
	parts := synthParts(total)
	b.SetBytes(total)
	b.ReportAllocs()
	dir := b.TempDir()
	var zipBytes int64
	peak := startPeak()
	for b.Loop() {
		f, err := os.Create(filepath.Join(dir, "package.zip"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := export.Write(context.Background(), f, header(), parts, export.Options{}); err != nil {
			b.Fatal(err)
		}
		st, err := f.Stat()
		if err != nil {
			b.Fatal(err)
		}
		zipBytes = st.Size()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	peak.report(b)
	b.ReportMetric(float64(zipBytes)/(1<<20), "zip-MB")
}

// BenchmarkFileCopy1GB is the baseline: the same generated exports copied
// into a file as they are.
func BenchmarkFileCopy1GB(b *testing.B) {
	total := benchBytes(b)
	parts := synthParts(total)
	b.SetBytes(total)
	b.ReportAllocs()
	dir := b.TempDir()
	peak := startPeak()
	for b.Loop() {
		f, err := os.Create(filepath.Join(dir, "copy.json"))
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range parts {
			rc, err := p.Open(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(f, rc); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	peak.report(b)
}

func TestSyntheticParts(t *testing.T) {
	t.Parallel()
	const total = 1 << 20
	parts := synthParts(total)
	var sum int64
	for _, p := range parts {
		rc, _ := p.Open(context.Background())
		doc, _ := io.ReadAll(rc)
		if !json.Valid(doc) {
			t.Errorf("%s: generated export is not valid JSON", p.Service)
		}
		again, _ := p.Open(context.Background())
		if b, _ := io.ReadAll(again); !bytes.Equal(doc, b) {
			t.Errorf("%s: two opens differ", p.Service)
		}
		sum += int64(len(doc))
	}
	if sum != total {
		t.Errorf("generated %d bytes, want %d", sum, total)
	}
	pkg, m := write(t, parts, export.Options{})
	_, files := unzip(t, pkg)
	checkManifest(t, m, files)
	for _, s := range m.Services {
		if wantCSV := strings.HasPrefix(s.ID, "flat"); (len(s.Files) == 2) != wantCSV || s.Items == 0 {
			t.Errorf("service %s: %d items, files %v", s.ID, s.Items, s.Files)
		}
	}
}

// benchBytes reads EXPORT_BENCH_BYTES; the default is 1 GiB.
func benchBytes(tb testing.TB) int64 {
	tb.Helper()
	v := os.Getenv("EXPORT_BENCH_BYTES")
	if v == "" {
		return 1 << 30
	}
	shift := 0
	switch strings.ToUpper(v[len(v)-1:]) {
	case "K":
		shift = 10
	case "M":
		shift = 20
	case "G":
		shift = 30
	}
	if shift > 0 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		tb.Fatalf("EXPORT_BENCH_BYTES=%q is not a positive size", os.Getenv("EXPORT_BENCH_BYTES"))
	}
	return n << shift
}

// peak measures the peak memory of a benchmark run: VmHWM, the kernel's peak
// RSS of the process (reset at the start where /proc/self/clear_refs
// allows), and the peak of the Go runtime's mapped, unreleased memory,
// sampled every 5 ms.
type peak struct {
	cpu   time.Duration // user and system time of the process at the start
	reset bool
	stop  chan struct{}
	wg    sync.WaitGroup
	goMax uint64
}

func startPeak() *peak {
	runtime.GC()
	debug.FreeOSMemory()
	p := &peak{stop: make(chan struct{}), cpu: cpuTime()}
	p.reset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	p.wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			p.goMax = max(p.goMax, samples[0].Value.Uint64()-samples[1].Value.Uint64())
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	})
	return p
}

func (p *peak) report(b *testing.B) {
	b.StopTimer()
	close(p.stop)
	p.wg.Wait()
	// CPU time, unlike MB/s, barely depends on what else the machine runs.
	if p.cpu > 0 {
		b.ReportMetric((cpuTime()-p.cpu).Seconds()/float64(b.N), "cpu-s/op")
	}
	b.ReportMetric(float64(p.goMax)/(1<<20), "peak-Go-MB")
	hwm, err := vmHWM()
	if err != nil {
		b.Logf("no peak RSS: %v", err)
		return
	}
	if !p.reset {
		b.Log("VmHWM could not be reset: it is the peak of the whole process so far")
	}
	b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MB")
}
