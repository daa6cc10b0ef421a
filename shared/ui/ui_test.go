package ui_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/ui"
)

func TestCSPAllowsNoInlineCode(t *testing.T) {
	t.Parallel()
	for _, csp := range []string{ui.CSP(), ui.CSP("https://cdn.acme.example")} {
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "script-src 'self';") ||
			!strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
	}
	if got := ui.CSP("https://cdn.acme.example"); !strings.Contains(got, "img-src 'self' https://cdn.acme.example;") {
		t.Errorf("logo origin not allowed for images: %q", got)
	}
}

func TestAssetsRevalidate(t *testing.T) {
	t.Parallel()
	a, err := ui.NewAssets(fstest.MapFS{"app.js": {Data: []byte("1")}, "x/site.css": {Data: []byte("b{}")}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(name, etag string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/"+name, nil)
		if etag != "" {
			r.Header.Set("If-None-Match", etag)
		}
		w := httptest.NewRecorder()
		a.Serve(w, r, name, ui.CSP())
		return w
	}
	first := get("app.js", "")
	if first.Code != 200 || first.Body.String() != "1" || !strings.HasPrefix(first.Header().Get("Content-Type"), "text/javascript") ||
		first.Header().Get("X-Content-Type-Options") != "nosniff" || first.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("app.js: %d %q %v", first.Code, first.Body, first.Header())
	}
	if again := get("app.js", first.Header().Get("ETag")); again.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", again.Code)
	}
	if css := get("site.css", ""); css.Code != 200 || !strings.HasPrefix(css.Header().Get("Content-Type"), "text/css") {
		t.Errorf("site.css: %d %s", css.Code, css.Header().Get("Content-Type"))
	}
	if missing := get("nope.js", ""); missing.Code != 404 {
		t.Errorf("missing asset: %d", missing.Code)
	}
}

func TestIndexLinksCenterAndConsole(t *testing.T) {
	t.Parallel()
	cases := []struct {
		demo      string
		want, not []string
	}{
		{"demo", []string{`href="/api/center/demo/"`, `href="/api/console/"`}, nil},
		{"", []string{`href="/api/console/"`}, []string{"/api/center/"}},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		ui.Index(tc.demo).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		body := w.Body.String()
		for _, s := range tc.want {
			if !strings.Contains(body, s) {
				t.Errorf("index(%q) lacks %s", tc.demo, s)
			}
		}
		for _, s := range tc.not {
			if strings.Contains(body, s) {
				t.Errorf("index(%q) has %s", tc.demo, s)
			}
		}
	}
	w := httptest.NewRecorder()
	ui.Index("demo").ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", w.Code)
	}
}

// Every shipped extension gets the same content type on any machine (the
// table, not the machine's MIME database); an unknown one stops start-up.
func TestAssetContentTypes(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{}
	want := map[string]string{
		"app.js": "text/javascript; charset=utf-8", "site.css": "text/css; charset=utf-8",
		"index.html": "text/html; charset=utf-8", "logo.svg": "image/svg+xml",
	}
	for name := range want {
		fsys[name] = &fstest.MapFile{Data: []byte("x")}
	}
	a, err := ui.NewAssets(fsys)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for name := range want {
		w := httptest.NewRecorder()
		a.Serve(w, httptest.NewRequest(http.MethodGet, "/"+name, nil), name, ui.CSP())
		got[name] = w.Header().Get("Content-Type")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("content types (-want +got):\n%s", d)
	}
	if _, err := ui.NewAssets(fstest.MapFS{"font.ttf": {Data: []byte("x")}}); err == nil || !strings.Contains(err.Error(), ".ttf") {
		t.Errorf("NewAssets with a .ttf = %v, want an error naming the extension", err)
	}
}

// openCounter counts the files opened through it.
type openCounter struct {
	fstest.MapFS
	opened map[string]int
}

func (c *openCounter) Open(name string) (fs.File, error) {
	f, err := c.MapFS.Open(name)
	if err == nil {
		if st, serr := f.Stat(); serr == nil && !st.IsDir() {
			c.opened[name]++
		}
	}
	return f, err
}

func (c *openCounter) ReadFile(name string) ([]byte, error) {
	c.opened[name]++
	return c.MapFS.ReadFile(name)
}

// TestAssetsAreReadOnFirstRequest: NewAssets reads no file (start-up), and a
// file is read once, on its first request, however often it is served.
func TestAssetsAreReadOnFirstRequest(t *testing.T) {
	t.Parallel()
	fsys := &openCounter{MapFS: fstest.MapFS{"app.js": {Data: []byte("1")}, "x/site.css": {Data: []byte("b{}")}}, opened: map[string]int{}}
	a, err := ui.NewAssets(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(fsys.opened) != 0 {
		t.Fatalf("NewAssets read %v", fsys.opened)
	}
	for range 3 {
		w := httptest.NewRecorder()
		a.Serve(w, httptest.NewRequest(http.MethodGet, "/site.css", nil), "site.css", ui.CSP())
		if w.Code != http.StatusOK || w.Body.String() != "b{}" {
			t.Fatalf("site.css: %d %q", w.Code, w.Body.String())
		}
	}
	if d := cmp.Diff(map[string]int{"x/site.css": 1}, fsys.opened); d != "" {
		t.Errorf("files read (-want +got):\n%s", d)
	}
}

// TestAssetNamesAreUnique: two files with one base name are refused, since
// only one of them could ever be served.
func TestAssetNamesAreUnique(t *testing.T) {
	t.Parallel()
	_, err := ui.NewAssets(fstest.MapFS{"a/app.js": {Data: []byte("1")}, "b/app.js": {Data: []byte("2")}})
	if err == nil || !strings.Contains(err.Error(), "app.js") {
		t.Errorf("NewAssets with two app.js = %v, want an error naming it", err)
	}
}
