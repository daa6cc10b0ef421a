package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/privops/privops/shared/export"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var created = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

func header() export.Manifest {
	return export.Manifest{TenantID: "acme", RequestID: "req-42", CreatedAt: created}
}

// source is a stored export that counts how often it is opened and closed.
type source struct {
	mu     sync.Mutex
	bodies []string // body of the n-th open; the last one repeats
	opens  int
	closes int
	read   int64 // bytes handed out
}

func (s *source) open(context.Context) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body := s.bodies[min(s.opens, len(s.bodies)-1)]
	s.opens++
	return &sourceReader{src: s, r: strings.NewReader(body)}, nil
}

func (s *source) counts() (opens, closes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens, s.closes
}

type sourceReader struct {
	src *source
	r   io.Reader
}

func (r *sourceReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.src.mu.Lock()
	r.src.read += int64(n)
	r.src.mu.Unlock()
	return n, err
}

func (r *sourceReader) Close() error {
	r.src.mu.Lock()
	r.src.closes++
	r.src.mu.Unlock()
	return nil
}

func readTestdata(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// part returns a Part reading body, and its source.
func part(id, name, body string) (export.Part, *source) {
	src := &source{bodies: []string{body}}
	return export.Part{Service: id, Name: name, Open: src.open}, src
}

// recorded returns a Part reading testdata/<id>.json.
func recorded(tb testing.TB, id, name string) export.Part {
	tb.Helper()
	p, _ := part(id, name, readTestdata(tb, id+".json"))
	return p
}

func write(tb testing.TB, parts []export.Part, opts export.Options) ([]byte, export.Manifest) {
	tb.Helper()
	var buf bytes.Buffer
	m, err := export.Write(context.Background(), &buf, header(), parts, opts)
	if err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), m
}

// unzip returns the files of a package in archive order, and checks what
// every entry must be: deflated, dated at the creation time.
func unzip(tb testing.TB, pkg []byte) (names []string, files map[string][]byte) {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		tb.Fatalf("read zip: %v", err)
	}
	files = map[string][]byte{}
	for _, f := range zr.File {
		if f.Method != zip.Deflate {
			tb.Errorf("%s: method %d, want deflate", f.Name, f.Method)
		}
		if !f.Modified.Equal(created) {
			tb.Errorf("%s: modified %v, want %v", f.Name, f.Modified, created)
		}
		rc, err := f.Open()
		if err != nil {
			tb.Fatalf("open %s: %v", f.Name, err)
		}
		b, err := io.ReadAll(rc) // also checks the CRC-32
		rc.Close()
		if err != nil {
			tb.Fatalf("read %s: %v", f.Name, err)
		}
		names = append(names, f.Name)
		files[f.Name] = b
	}
	return names, files
}

// decodeItems returns the items of a JSON document, numbers kept as written.
func decodeItems(tb testing.TB, doc []byte) []any {
	tb.Helper()
	var v struct {
		Items []any `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decode items: %v", err)
	}
	return v.Items
}

func readCSV(tb testing.TB, b []byte) [][]string {
	tb.Helper()
	records, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		tb.Fatalf("read csv: %v", err)
	}
	return records
}

func TestWriteLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		parts     func(testing.TB) []export.Part
		wantFiles []string
		wantSvcs  []export.ServiceEntry
	}{
		{
			name: "flat, nested and empty services, in id order",
			parts: func(tb testing.TB) []export.Part {
				return []export.Part{recorded(tb, "tickets", "Helpdesk"), recorded(tb, "crm", "CRM"), recorded(tb, "empty", "Newsletter")}
			},
			wantFiles: []string{"services/crm.json", "services/crm.csv", "services/empty.json", "services/tickets.json", "README.txt", "manifest.json"},
			wantSvcs: []export.ServiceEntry{
				{ID: "crm", Name: "CRM", Items: 5, Files: []string{"services/crm.json", "services/crm.csv"}},
				{ID: "empty", Name: "Newsletter", Items: 0, Files: []string{"services/empty.json"}},
				{ID: "tickets", Name: "Helpdesk", Items: 2, Files: []string{"services/tickets.json"}},
			},
		},
		{
			name:      "no services",
			parts:     func(testing.TB) []export.Part { return nil },
			wantFiles: []string{"README.txt", "manifest.json"},
			wantSvcs:  []export.ServiceEntry{},
		},
		{
			name: "a held service is listed with its note and no files",
			parts: func(tb testing.TB) []export.Part {
				return []export.Part{recorded(tb, "crm", "CRM"), {Service: "billing", Name: "Billing", Note: "held: invoices kept for 10 years (tax law)"}}
			},
			wantFiles: []string{"services/crm.json", "services/crm.csv", "README.txt", "manifest.json"},
			wantSvcs: []export.ServiceEntry{
				{ID: "billing", Name: "Billing", Files: []string{}, Note: "held: invoices kept for 10 years (tax law)"},
				{ID: "crm", Name: "CRM", Items: 5, Files: []string{"services/crm.json", "services/crm.csv"}},
			},
		},
		{
			name: "items that are not all flat objects get no CSV",
			parts: func(testing.TB) []export.Part {
				scalars, _ := part("scalars", "Scalars", `{"items":["a",1,null]}`)
				mixed, _ := part("mixed", "Mixed", `{"items":[{"a":1},{"b":[1]}]}`)
				empties, _ := part("empties", "Empty objects", `{"items":[{},{}]}`)
				var keys []string
				for i := range 1001 {
					keys = append(keys, fmt.Sprintf(`"k%d":%d`, i, i))
				}
				tooWide, _ := part("wide", "Too many columns", `{"items":[{`+strings.Join(keys, ",")+`}]}`)
				return []export.Part{scalars, mixed, empties, tooWide}
			},
			wantFiles: []string{"services/empties.json", "services/mixed.json", "services/scalars.json", "services/wide.json", "README.txt", "manifest.json"},
			wantSvcs: []export.ServiceEntry{
				{ID: "empties", Name: "Empty objects", Items: 2, Files: []string{"services/empties.json"}},
				{ID: "mixed", Name: "Mixed", Items: 2, Files: []string{"services/mixed.json"}},
				{ID: "scalars", Name: "Scalars", Items: 3, Files: []string{"services/scalars.json"}},
				{ID: "wide", Name: "Too many columns", Items: 1, Files: []string{"services/wide.json"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pkg, m := write(t, tt.parts(t), export.Options{})
			names, files := unzip(t, pkg)
			if diff := cmp.Diff(tt.wantFiles, names); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSvcs, m.Services); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
			checkManifest(t, m, files)
		})
	}
}

// checkManifest checks the manifest against the files actually in the zip.
func checkManifest(tb testing.TB, m export.Manifest, files map[string][]byte) {
	tb.Helper()
	var stored export.Manifest
	if err := json.Unmarshal(files["manifest.json"], &stored); err != nil {
		tb.Fatalf("decode manifest.json: %v", err)
	}
	if diff := cmp.Diff(m, stored); diff != "" {
		tb.Errorf("manifest.json differs from the returned manifest (-returned +stored):\n%s", diff)
	}
	wantHead := export.Manifest{Format: "privops-export/1", TenantID: "acme", RequestID: "req-42", CreatedAt: created}
	gotHead := export.Manifest{Format: m.Format, TenantID: m.TenantID, RequestID: m.RequestID, CreatedAt: m.CreatedAt}
	if diff := cmp.Diff(wantHead, gotHead); diff != "" {
		tb.Errorf("manifest header (-want +got):\n%s", diff)
	}
	var want []export.FileEntry
	for name, b := range files {
		if name == "manifest.json" {
			continue
		}
		sum := sha256.Sum256(b)
		want = append(want, export.FileEntry{Path: name, Bytes: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
	}
	byPath := cmpopts.SortSlices(func(a, b export.FileEntry) bool { return a.Path < b.Path })
	if diff := cmp.Diff(want, m.Files, byPath); diff != "" {
		tb.Errorf("manifest files (-want +got):\n%s", diff)
	}
	for _, s := range m.Services {
		for _, f := range s.Files {
			if _, ok := files[f]; !ok {
				tb.Errorf("service %s lists %s, not in the zip", s.ID, f)
			}
		}
	}
}

func TestWriteJSONHoldsTheItems(t *testing.T) {
	t.Parallel()
	tests := []struct{ id, name string }{
		{"crm", "CRM"},
		{"tickets", "Helpdesk"},
		{"empty", "Newsletter"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			input := readTestdata(t, tt.id+".json")
			pkg, _ := write(t, []export.Part{recorded(t, tt.id, tt.name)}, export.Options{})
			_, files := unzip(t, pkg)
			got := files["services/"+tt.id+".json"]
			items := decodeItems(t, got)
			if diff := cmp.Diff(decodeItems(t, []byte(input)), items); diff != "" {
				t.Errorf("items (-input +package):\n%s", diff)
			}
			var head struct{ Service, Name string }
			if err := json.Unmarshal(got, &head); err != nil {
				t.Fatal(err)
			}
			if head.Service != tt.id || head.Name != tt.name {
				t.Errorf("service %q name %q, want %q %q", head.Service, head.Name, tt.id, tt.name)
			}
			// One item per line: "{", service, name, "items": [, the items,
			// "]", "}" (an empty array closes on its own line).
			want := 6 + len(items)
			if len(items) == 0 {
				want = 5
			}
			if lines := strings.Count(string(got), "\n"); lines != want {
				t.Errorf("%d lines, want %d:\n%s", lines, want, got)
			}
		})
	}
}

func TestWriteJSONEmptyService(t *testing.T) {
	t.Parallel()
	pkg, _ := write(t, []export.Part{recorded(t, "empty", "Newsletter")}, export.Options{})
	_, files := unzip(t, pkg)
	want := "{\n  \"service\": \"empty\",\n  \"name\": \"Newsletter\",\n  \"items\": []\n}\n"
	if diff := cmp.Diff(want, string(files["services/empty.json"])); diff != "" {
		t.Errorf("services/empty.json (-want +got):\n%s", diff)
	}
}

func TestWriteJSONRepairsInvalidUTF8(t *testing.T) {
	t.Parallel()
	p, _ := part("legacy", "Legacy", "{\"items\":[{\"name\":\"Ren\xe9\"}]}")
	pkg, _ := write(t, []export.Part{p}, export.Options{})
	_, files := unzip(t, pkg)
	got := files["services/legacy.json"]
	if !utf8.Valid(got) || !json.Valid(got) {
		t.Fatalf("services/legacy.json is not valid UTF-8 JSON:\n%q", got)
	}
	if diff := cmp.Diff([]any{map[string]any{"name": "Ren\uFFFD"}}, decodeItems(t, got)); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
}

func TestWriteReadme(t *testing.T) {
	t.Parallel()
	parts := []export.Part{
		recorded(t, "crm", "CRM"),
		recorded(t, "tickets", "Helpdesk"),
		recorded(t, "empty", "Newsletter"),
		{Service: "billing", Name: "Billing", Note: "held: invoices kept\nfor 10 years (tax law)"},
	}
	pkg, _ := write(t, parts, export.Options{})
	_, files := unzip(t, pkg)
	got := files["README.txt"]
	golden := filepath.Join("testdata", "README.golden.txt")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("README.txt (-want +got):\n%s", diff)
	}
}

func TestWriteDeterministic(t *testing.T) {
	t.Parallel()
	parts := func() []export.Part {
		return []export.Part{recorded(t, "crm", "CRM"), recorded(t, "tickets", "Helpdesk"), recorded(t, "empty", "Newsletter")}
	}
	first, _ := write(t, parts(), export.Options{})
	second, _ := write(t, parts(), export.Options{})
	if !bytes.Equal(first, second) {
		t.Error("two writes of the same input differ")
	}
	reversed := parts()
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	third, _ := write(t, reversed, export.Options{})
	if !bytes.Equal(first, third) {
		t.Error("the order of parts changes the package")
	}
}

func TestWriteCreatedAtIsUTC(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip(err)
	}
	m := header()
	m.CreatedAt = created.In(paris)
	var local, utc bytes.Buffer
	if _, err := export.Write(context.Background(), &local, m, nil, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := export.Write(context.Background(), &utc, header(), nil, export.Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(local.Bytes(), utc.Bytes()) {
		t.Error("the same instant in another zone changes the package")
	}
}

func TestWriteOpensOnceOrTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		wantOpens int
	}{
		{"flat: one pass for JSON and CSV", readTestdata(t, "crm.json"), 1},
		{"flat, a key after the first MiB of items: a second pass for the CSV", grown(`{"b":1}`), 2},
		{"flat, items over a MiB with no new key later: one pass", grown(`{"a":1}`), 1},
		{"nested: one pass", readTestdata(t, "tickets.json"), 1},
		{"nested after the first MiB: one pass", grown(`{"a":[1]}`), 1},
		{"empty: one pass", readTestdata(t, "empty.json"), 1},
		{"malformed: closed after the error", readTestdata(t, "garbage.json"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, src := part("svc", "Service", tt.body)
			export.Write(context.Background(), io.Discard, header(), []export.Part{p}, export.Options{})
			opens, closes := src.counts()
			if opens != tt.wantOpens || closes != opens {
				t.Errorf("opened %d, closed %d; want %d, all closed", opens, closes, tt.wantOpens)
			}
		})
	}
}

func TestWriteThroughPipe(t *testing.T) {
	t.Parallel()
	parts := func() []export.Part {
		return []export.Part{recorded(t, "crm", "CRM"), recorded(t, "tickets", "Helpdesk")}
	}
	want, _ := write(t, parts(), export.Options{})

	pr, pw := io.Pipe()
	var w io.Writer = pw
	if _, ok := w.(io.Seeker); ok {
		t.Fatal("the pipe writer can seek; the test proves nothing")
	}
	go func() {
		_, err := export.Write(context.Background(), w, header(), parts(), export.Options{})
		pw.CloseWithError(err)
	}()
	got, err := io.ReadAll(readOnly{pr})
	if err != nil {
		t.Fatalf("read pipe: %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Error("the package through a pipe differs from the one in a buffer")
	}
	_, files := unzip(t, got)
	if len(files) != 5 {
		t.Errorf("%d files through the pipe, want 5", len(files))
	}
}

// readOnly hides every method but Read.
type readOnly struct{ r io.Reader }

func (r readOnly) Read(b []byte) (int, error) { return r.r.Read(b) }
