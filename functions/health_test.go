package main

import (
	"testing"
)

// TestStandaloneHealthEndpoints: the real binary answers /healthz and, with
// its SQLite store open, /readyz; neither is under /api/ nor needs a token.
func TestStandaloneHealthEndpoints(t *testing.T) {
	t.Parallel()
	p := start(t, baseEnv(t.TempDir()))
	for _, path := range []string{"/healthz", "/readyz"} {
		status, body := send("GET", p.addr+path, "", "", nil)
		if status != 200 || body["status"] != "ok" {
			t.Errorf("GET %s: got %d %v, want 200 {\"status\":\"ok\"}\n%s", path, status, body, p.out.String())
		}
	}
	p.stop(t)
}
