package export

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var packDate = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

// twoPass writes every CSV file from a second read, as before csvPass.
var twoPass = tuning{pending: -1, spoolMemory: spoolMemory}

// flatDoc returns a stored export of n flat items from seed, several MiB
// for large n: numbers, escapes, formulas, nulls, invalid UTF-8 and items
// over several lines, so that every way into a row is taken. From item
// late on, some items carry a key the earlier ones lack.
func flatDoc(n, late int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString(`{"meta":{"v":1},"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"u-%d","score":%d.%d,"ok":%t,"ref":null,"note":"%s"`,
			i, rng.IntN(1000), rng.IntN(100), rng.IntN(2) == 0,
			[]string{`plain words`, `=1+1`, `line\nbreak`, `tab\there`, `quote \"q\"`, "bad \xff byte", `\u00e9t\u00e9`, `a,b`}[rng.IntN(8)])
		if rng.IntN(5) == 0 {
			b.WriteString(",\n  \"city\" : \"Oslo\"") // a line break inside an item
		}
		if i >= late && rng.IntN(3) == 0 {
			b.WriteString(`,"late":"x"`)
		}
		b.WriteString(strings.Repeat(" ", rng.IntN(3)) + "}")
	}
	b.WriteString(`]}`)
	return b.String()
}

// nestedLate appends an item that is not flat to the items of doc.
func nestedLate(doc string) string {
	return strings.TrimSuffix(doc, "]}") + `,{"n":{"m":[1]}}]}`
}

func fixedPart(id, doc string) Part {
	return Part{Service: id, Name: "Service " + id, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(doc)), nil
	}}
}

func pack(tb testing.TB, parts []Part, opts Options, tune tuning) ([]byte, Manifest) {
	tb.Helper()
	var buf bytes.Buffer
	m, err := write(context.Background(), &buf, Manifest{TenantID: "acme", RequestID: "req-1", CreatedAt: packDate}, parts, opts, tune)
	if err != nil {
		tb.Fatalf("write: %v", err)
	}
	return buf.Bytes(), m
}

// TestOnePassCSVMatchesTwoPass writes the same services with the CSV
// files in the JSON's pass (held back up to several limits, some crossed by
// a key that appears late, which falls back to a second read) and from a
// second read: the packages are the same, byte for byte.
func TestOnePassCSVMatchesTwoPass(t *testing.T) {
	t.Parallel()
	crm, err := os.ReadFile("testdata/crm.json")
	if err != nil {
		t.Fatal(err)
	}
	tickets, err := os.ReadFile("testdata/tickets.json")
	if err != nil {
		t.Fatal(err)
	}
	parts := []Part{
		fixedPart("crm", string(crm)),
		fixedPart("tickets", string(tickets)),
		fixedPart("big", flatDoc(40_000, 40_000, 1)),  // several blocks, one key set
		fixedPart("late", flatDoc(20_000, 15_000, 2)), // a key after the first MiB
		fixedPart("early", flatDoc(20_000, 100, 3)),   // a key within the first MiB
		fixedPart("nested", nestedLate(flatDoc(20_000, 20_000, 4))),
		fixedPart("empty", `{"items":[]}`),
	}
	want, wantManifest := pack(t, parts, Options{}, twoPass)
	for _, tune := range []tuning{
		{pending: pendingBytes, spoolMemory: spoolMemory},
		{pending: 0, spoolMemory: spoolMemory},
		{pending: 4096, spoolMemory: 64 << 10},
	} {
		t.Run(fmt.Sprintf("pending %d, spool memory %d", tune.pending, tune.spoolMemory), func(t *testing.T) {
			t.Parallel()
			got, m := pack(t, parts, Options{SpoolDir: t.TempDir()}, tune)
			if diff := cmp.Diff(wantManifest, m); diff != "" {
				t.Errorf("manifest (-two passes +one):\n%s", diff)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("package differs from the two-pass one (%d bytes against %d)", len(got), len(want))
			}
		})
	}
	files := readZip(t, want)
	checkSums(t, wantManifest, files)
	for _, id := range []string{"crm", "big", "late", "early"} {
		if _, ok := files["services/"+id+".csv"]; !ok {
			t.Errorf("no CSV file for %s", id)
		}
	}
	if _, ok := files["services/nested.csv"]; ok {
		t.Error("a CSV file for a nested service")
	}
}

// TestOnePassCSVReadsOnce counts the reads of each kind of service.
func TestOnePassCSVReadsOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		doc       string
		wantReads int
	}{
		{"one key set", flatDoc(20_000, 20_000, 5), 1},
		{"a key within the first MiB", flatDoc(20_000, 50, 6), 1},
		{"a key after the first MiB", flatDoc(20_000, 15_000, 7), 2},
		{"nested after the first MiB", nestedLate(flatDoc(20_000, 20_000, 8)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reads := 0
			p := Part{Service: "svc", Open: func(context.Context) (io.ReadCloser, error) {
				reads++
				return io.NopCloser(strings.NewReader(tt.doc)), nil
			}}
			pack(t, []Part{p}, Options{SpoolDir: t.TempDir()}, tuning{pending: pendingBytes, spoolMemory: spoolMemory})
			if reads != tt.wantReads {
				t.Errorf("read %d times, want %d", reads, tt.wantReads)
			}
		})
	}
}

// TestSpoolToDisk writes past the memory of a spool in uneven writes: what
// it gives back is what went in, the temporary file has no name in the
// folder while it is open (Linux) and is gone after close.
func TestSpoolToDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := []byte(flatDoc(5_000, 5_000, 9))
	for _, capacity := range []int{0, 1000, spoolChunk + 3, len(in), 4 * len(in)} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			sp := newSpool(dir, capacity)
			for i, step := 0, 1; i < len(in); i, step = i+step, step*2+1 {
				if n, err := sp.Write(in[i:min(i+step, len(in))]); err != nil || n != min(step, len(in)-i) {
					t.Fatalf("write: %d, %v", n, err)
				}
			}
			if want := capacity < len(in); sp.onDisk() != want {
				t.Errorf("on disk %t, want %t", sp.onDisk(), want)
			}
			if names := dirNames(t, dir); len(names) != 0 && isLinux() {
				t.Errorf("temporary files named while open: %v", names)
			}
			var out bytes.Buffer
			if err := sp.copyTo(&out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), in) {
				t.Errorf("read back %d bytes, not the %d written", out.Len(), len(in))
			}
			sp.close()
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
		})
	}
}

func isLinux() bool { _, err := os.Stat("/proc/self"); return err == nil }

func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteSpoolFails: a spool that cannot make its temporary file fails
// the package, naming the service, and leaves no goroutine writing.
func TestWriteSpoolFails(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "gone")
	var buf bytes.Buffer
	_, err := write(context.Background(), &buf, Manifest{TenantID: "acme", RequestID: "req-1", CreatedAt: packDate},
		[]Part{fixedPart("svc", flatDoc(20_000, 20_000, 10))}, Options{SpoolDir: missing}, tuning{pending: 4096, spoolMemory: 1024})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "svc") {
		t.Errorf("error %v, want one wrapping os.ErrNotExist naming svc", err)
	}
}

// TestFileHeaderMatchesCreateHeader: a file the package adds with CreateRaw
// has the header zip.Writer.CreateHeader would have given it.
func TestFileHeaderMatchesCreateHeader(t *testing.T) {
	t.Parallel()
	content := []byte(flatDoc(100, 100, 11))

	var std bytes.Buffer
	zw := zip.NewWriter(&std)
	fh := &zip.FileHeader{Name: "services/a.json", Method: zip.Deflate, Modified: packDate}
	fh.SetMode(0o644)
	w, err := zw.CreateHeader(fh)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	var ours bytes.Buffer
	p := &packer{zw: zip.NewWriter(&ours), headers: zip.NewWriter(io.Discard), modified: packDate, blocks: newBlockPool()}
	e, err := p.create("services/a.json")
	if err != nil {
		t.Fatal(err)
	}
	e.s.Write(content)
	if err := p.finish(e); err != nil {
		t.Fatal(err)
	}
	if err := p.zw.Close(); err != nil {
		t.Fatal(err)
	}

	headers := func(b []byte) []zip.FileHeader {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		var hs []zip.FileHeader
		for _, f := range zr.File {
			hs = append(hs, f.FileHeader)
		}
		return hs
	}
	ignore := cmpopts.IgnoreFields(zip.FileHeader{}, "CompressedSize", "CompressedSize64")
	if diff := cmp.Diff(headers(std.Bytes()), headers(ours.Bytes()), ignore); diff != "" {
		t.Errorf("headers (-CreateHeader +ours):\n%s", diff)
	}
	files := readZip(t, ours.Bytes())
	if !bytes.Equal(files["services/a.json"], content) {
		t.Error("content read back differs")
	}
}

// readZip reads every file of a package with archive/zip, which checks
// each one's CRC-32 and size.
func readZip(tb testing.TB, pkg []byte) map[string][]byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		tb.Fatalf("read zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatalf("open %s: %v", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("read %s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	return files
}

// checkSums compares the manifest's sizes and SHA-256 with the files.
func checkSums(tb testing.TB, m Manifest, files map[string][]byte) {
	tb.Helper()
	if len(m.Files) != len(files)-1 {
		tb.Errorf("manifest lists %d files, zip holds %d besides it", len(m.Files), len(files)-1)
	}
	for _, f := range m.Files {
		sum := sha256.Sum256(files[f.Path])
		if got := (FileEntry{Path: f.Path, Bytes: int64(len(files[f.Path])), SHA256: hex.EncodeToString(sum[:])}); got != f {
			tb.Errorf("manifest says %+v, file is %+v", f, got)
		}
	}
}

// TestWriteLeavesNoGoroutine ends packages in each way a flat service's
// CSV goroutine, its stream and the compressors can be running, and checks
// that every goroutine Write started has ended when it returns. It does
// not run in parallel: it counts the process's goroutines.
func TestWriteLeavesNoGoroutine(t *testing.T) {
	doc := flatDoc(40_000, 40_000, 12)
	failing := func(after int) Part {
		return Part{Service: "svc", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader(doc[:after]), iotestErrReader{})), nil
		}}
	}
	tests := []struct {
		name  string
		parts []Part
		w     io.Writer
		tune  tuning
	}{
		{"done", []Part{fixedPart("svc", doc)}, io.Discard, tuning{pending: 4096, spoolMemory: 1 << 10}},
		{"read fails after the columns are fixed", []Part{failing(len(doc) / 2)}, io.Discard, tuning{pending: 4096, spoolMemory: 1 << 10}},
		{"read fails before", []Part{failing(100)}, io.Discard, tuning{pending: 4096, spoolMemory: 1 << 10}},
		{"not flat after the columns are fixed", []Part{fixedPart("svc", nestedLate(doc))}, io.Discard, tuning{pending: 4096, spoolMemory: 1 << 10}},
		{"a key after the columns are fixed", []Part{fixedPart("svc", flatDoc(20_000, 15_000, 13))}, io.Discard, tuning{pending: pendingBytes, spoolMemory: 1 << 10}},
		{"the writer fails", []Part{fixedPart("svc", doc)}, &failAfterN{n: 1000}, tuning{pending: 4096, spoolMemory: 1 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			write(context.Background(), tt.w, Manifest{TenantID: "acme", RequestID: "req-1", CreatedAt: packDate}, tt.parts, Options{SpoolDir: t.TempDir()}, tt.tune)
			deadline := time.Now().Add(2 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				t.Errorf("%d goroutines after Write, %d before", n, before)
			}
		})
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// failAfterN accepts n bytes, then fails.
type failAfterN struct{ n int }

func (f *failAfterN) Write(b []byte) (int, error) {
	if len(b) > f.n {
		return 0, errors.New("disk full")
	}
	f.n -= len(b)
	return len(b), nil
}
