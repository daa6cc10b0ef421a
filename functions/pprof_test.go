package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPprofHandler: the PPROF_ADDR listener serves what go tool pprof reads at
// net/http/pprof's paths: a list, named profiles in the protobuf format
// (gzipped) or as text, a CPU profile and a runtime trace for ?seconds, and
// clear refusals.
func TestPprofHandler(t *testing.T) {
	srv := httptest.NewServer(pprofHandler())
	defer srv.Close()
	get := func(path string) (int, string, []byte) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, res.Header.Get("Content-Type"), b
	}
	gzipped := func(b []byte) bool { return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) }
	cases := []struct {
		path     string
		status   int
		ctype    string
		body     func([]byte) bool
		bodyWant string
	}{
		{"/debug/pprof/", 200, "text/plain; charset=utf-8", func(b []byte) bool {
			return bytes.Contains(b, []byte("heap (")) && bytes.Contains(b, []byte("goroutine ("))
		}, "a list with heap and goroutine"},
		{"/debug/pprof/heap?gc=1", 200, "application/octet-stream", gzipped, "a gzipped profile"},
		{"/debug/pprof/allocs", 200, "application/octet-stream", gzipped, "a gzipped profile"},
		{"/debug/pprof/goroutine?debug=1", 200, "text/plain; charset=utf-8", func(b []byte) bool { return bytes.HasPrefix(b, []byte("goroutine profile: total ")) }, "the text form"},
		{"/debug/pprof/profile?seconds=1", 200, "application/octet-stream", gzipped, "a gzipped CPU profile"},
		{"/debug/pprof/trace?seconds=1", 200, "application/octet-stream", func(b []byte) bool { return bytes.HasPrefix(b, []byte("go 1.")) }, "a runtime trace"},
		{"/debug/pprof/nope", 404, "text/plain; charset=utf-8", func(b []byte) bool { return strings.Contains(string(b), "no such profile") }, "a refusal"},
		{"/debug/pprof/profile?seconds=0", 400, "text/plain; charset=utf-8", func(b []byte) bool { return strings.Contains(string(b), "seconds must be") }, "a refusal"},
		{"/debug/pprof/trace?seconds=x", 400, "text/plain; charset=utf-8", func(b []byte) bool { return strings.Contains(string(b), "seconds must be") }, "a refusal"},
	}
	for _, tc := range cases {
		status, ctype, body := get(tc.path)
		if status != tc.status || ctype != tc.ctype || !tc.body(body) {
			t.Errorf("GET %s = %d %q %q…, want %d %q and %s", tc.path, status, ctype, body[:min(len(body), 40)], tc.status, tc.ctype, tc.bodyWant)
		}
	}
}
