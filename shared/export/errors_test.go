package export_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/export"
)

var (
	errOpen = errors.New("blob unavailable")
	errRead = errors.New("connection reset")
)

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		header  func(*export.Manifest)
		parts   func(testing.TB) []export.Part
		opts    export.Options
		wantErr error  // nil: any error
		wantIn  string // the error names this, when set
		private string // the error must not quote this, when set
	}{
		{
			name:    "garbage payload",
			parts:   func(tb testing.TB) []export.Part { return []export.Part{recorded(tb, "garbage", "Proxy")} },
			wantErr: export.ErrMalformed, wantIn: "garbage", private: "html",
		},
		{name: "array at the top", parts: body(`[{"a":1}]`), wantErr: export.ErrMalformed, wantIn: "svc"},
		{name: "no items", parts: body(`{"data":[{"a":1}]}`), wantErr: export.ErrMalformed, wantIn: "svc"},
		{name: "items null", parts: body(`{"items":null}`), wantErr: export.ErrMalformed, wantIn: "svc"},
		{name: "items an object", parts: body(`{"items":{"email":"ada@example.com"}}`), wantErr: export.ErrMalformed, private: "ada"},
		{name: "items twice", parts: body(`{"items":[],"items":[{"a":1}]}`), wantErr: export.ErrMalformed},
		{name: "truncated", parts: body(`{"items":[{"email":"ada@exam`), wantErr: export.ErrMalformed, private: "ada"},
		{name: "missing comma", parts: body(`{"items":[{"a":1}{"b":2}]}`), wantErr: export.ErrMalformed},
		{name: "bad literal", parts: body(`{"items":[{"email":Ada}]}`), wantErr: export.ErrMalformed, private: "Ada"},
		{name: "trailing data", parts: body(`{"items":[]} {"items":[]}`), wantErr: export.ErrMalformed},
		{name: "empty body", parts: body(``), wantErr: export.ErrMalformed},
		{name: "item over the limit", parts: body(`{"items":[{"a":"` + strings.Repeat("x", 100) + `"}]}`), opts: export.Options{MaxItemBytes: 64}, wantErr: export.ErrItemTooLarge, wantIn: "svc"},
		{name: "other key over the limit", parts: body(`{"meta":"` + strings.Repeat("x", 100<<10) + `","items":[]}`), opts: export.Options{MaxItemBytes: 64}, wantErr: export.ErrItemTooLarge},
		{
			name: "open fails",
			parts: func(testing.TB) []export.Part {
				return []export.Part{{Service: "svc", Open: func(context.Context) (io.ReadCloser, error) { return nil, errOpen }}}
			},
			wantErr: errOpen, wantIn: "svc",
		},
		{
			name: "read fails midway",
			parts: func(testing.TB) []export.Part {
				open := func(context.Context) (io.ReadCloser, error) {
					return io.NopCloser(io.MultiReader(strings.NewReader(`{"items":[{"a":1},`), iotest.ErrReader(errRead))), nil
				}
				return []export.Part{{Service: "svc", Open: open}}
			},
			wantErr: errRead, wantIn: "svc",
		},
		{
			// A second read happens only when a key appears after the
			// first MiB of items (see grown).
			name: "changed between reads",
			parts: func(testing.TB) []export.Part {
				src := &source{bodies: []string{grown(`{"a":1},{"b":2}`), grown(`{"a":1}`)}}
				return []export.Part{{Service: "svc", Open: src.open}}
			},
			wantErr: export.ErrChanged, wantIn: "svc",
		},
		{
			name: "new key on the second read",
			parts: func(testing.TB) []export.Part {
				src := &source{bodies: []string{grown(`{"b":1}`), grown(`{"c":1}`)}}
				return []export.Part{{Service: "svc", Open: src.open}}
			},
			wantErr: export.ErrChanged,
		},
		{name: "service id with a slash", parts: named("../etc"), wantIn: "../etc"},
		{name: "service id in capitals", parts: named("CRM"), wantIn: "CRM"},
		{name: "empty service id", parts: named("")},
		{name: "service id too long", parts: named(strings.Repeat("a", 65))},
		{name: "service twice", parts: named("crm", "crm"), wantIn: "crm"},
		{name: "no tenant", header: func(m *export.Manifest) { m.TenantID = "" }, parts: named()},
		{name: "no request", header: func(m *export.Manifest) { m.RequestID = "" }, parts: named()},
		{name: "no creation time", header: func(m *export.Manifest) { m.CreatedAt = time.Time{} }, parts: named()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := header()
			if tt.header != nil {
				tt.header(&m)
			}
			got, err := export.Write(context.Background(), io.Discard, m, tt.parts(t), tt.opts)
			if err == nil {
				t.Fatal("Write succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q, want %q", err, tt.wantErr)
			}
			if tt.wantIn != "" && !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error %q does not name %q", err, tt.wantIn)
			}
			if tt.private != "" && strings.Contains(err.Error(), tt.private) {
				t.Errorf("error %q quotes the data %q", err, tt.private)
			}
			if diff := cmp.Diff(export.Manifest{}, got); diff != "" {
				t.Errorf("manifest on error (-want +got):\n%s", diff)
			}
		})
	}
}

// grown returns a stored export of flat items whose first MiB has only the
// key "a", followed by the items in more: a key there makes the CSV file
// be written from a second read.
func grown(more string) string {
	big := `{"a":"` + strings.Repeat("x", 1<<20) + `"}`
	return `{"items":[{"a":0},` + big + `,` + more + `]}`
}

// body returns parts of one service, svc, whose stored export is doc.
func body(doc string) func(testing.TB) []export.Part {
	return func(testing.TB) []export.Part {
		p, _ := part("svc", "Service", doc)
		return []export.Part{p}
	}
}

// named returns parts of empty services with the given ids.
func named(ids ...string) func(testing.TB) []export.Part {
	return func(testing.TB) []export.Part {
		var parts []export.Part
		for _, id := range ids {
			p, _ := part(id, id, `{"items":[]}`)
			parts = append(parts, p)
		}
		return parts
	}
}

func TestWriteItemLimitBoundsReading(t *testing.T) {
	t.Parallel()
	// An 8 MiB item against a 1 KiB limit must fail without the decoder
	// buffering the whole item.
	huge := `{"items":[{"blob":"` + strings.Repeat("x", 8<<20) + `"}]}`
	p, src := part("svc", "Service", huge)
	_, err := export.Write(context.Background(), io.Discard, header(), []export.Part{p}, export.Options{MaxItemBytes: 1 << 10})
	if !errors.Is(err, export.ErrItemTooLarge) {
		t.Fatalf("error %v, want ErrItemTooLarge", err)
	}
	// The limit, the slack for whitespace, and one read-ahead buffer.
	if limit := int64(1<<10 + 64<<10 + 64<<10); src.read > limit {
		t.Errorf("read %d bytes of the stored export, want at most %d", src.read, limit)
	}
}

func TestWriteItemAtTheLimit(t *testing.T) {
	t.Parallel()
	item := `{"a":"` + strings.Repeat("x", 58) + `"}` // 64 bytes
	p, _ := part("svc", "Service", "{\"items\":[\n  "+item+",\n  "+item+"\n]}")
	pkg, m := write(t, []export.Part{p}, export.Options{MaxItemBytes: len(item)})
	if m.Services[0].Items != 2 {
		t.Errorf("%d items, want 2", m.Services[0].Items)
	}
	_, files := unzip(t, pkg)
	checkManifest(t, m, files)
}

func TestWriteCancelled(t *testing.T) {
	t.Parallel()
	t.Run("before the start", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := export.Write(ctx, io.Discard, header(), []export.Part{recorded(t, "crm", "CRM")}, export.Options{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
	t.Run("between items", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		items := strings.Repeat(`{"a":1},`, 100_000)
		doc := `{"items":[` + items + `{"a":1}]}`
		open := func(context.Context) (io.ReadCloser, error) {
			// Cancel once the first chunk has been read.
			return io.NopCloser(&cancelAfter{r: strings.NewReader(doc), cancel: cancel}), nil
		}
		_, err := export.Write(ctx, io.Discard, header(), []export.Part{{Service: "svc", Open: open}}, export.Options{})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "svc") {
			t.Errorf("error %v, want context.Canceled naming svc", err)
		}
	})
}

type cancelAfter struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.cancel()
	return n, err
}

func TestWriteStopsWhenTheWriterFails(t *testing.T) {
	t.Parallel()
	errFull := errors.New("disk full")
	// Items that hardly compress, so that the compressed bytes reach the
	// writer early, and many more than the blocks in flight.
	rng := rand.New(rand.NewPCG(1, 2))
	var doc strings.Builder
	doc.WriteString(`{"items":[`)
	for range 20_000 {
		fmt.Fprintf(&doc, `{"a":"%x"},`, rng.Uint64()) // about 30 bytes
		for range 30 {
			fmt.Fprintf(&doc, `{"b":"%x%x"},`, rng.Uint64(), rng.Uint64())
		}
	}
	doc.WriteString(`{}]}`)
	src := &source{bodies: []string{doc.String()}}
	_, err := export.Write(context.Background(), &failAfter{n: 4096, err: errFull}, header(), []export.Part{{Service: "svc", Open: src.open}}, export.Options{})
	if !errors.Is(err, errFull) {
		t.Errorf("error %v, want %v", err, errFull)
	}
	if src.read == int64(len(src.bodies[0])) {
		t.Error("read the whole stored export after the writer failed")
	}
}

// failAfter accepts n bytes, then fails. It never seeks.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		n := f.n
		f.n = 0
		return n, f.err
	}
	f.n -= len(b)
	return len(b), nil
}
