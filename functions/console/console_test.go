package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/privops/privops/functions/console"
)

func TestConsoleServesItsFilesOnly(t *testing.T) {
	t.Parallel()
	c, err := console.New()
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler()
	cases := []struct {
		path       string
		wantStatus int
		want       string
	}{
		{"/api/console/", 200, `<script src="console.js" defer></script>`},
		{"/api/console/console.js", 200, "/api/admin/"},
		{"/api/console/console.css", 200, ":focus-visible"},
		{"/api/console", 301, ""},
		{"/api/console/admin.json", 404, ""},
		{"/api/console/x/y", 404, ""},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("GET %s: %d, want %d with %q", tc.path, w.Code, tc.wantStatus, tc.want)
		}
		if csp := w.Header().Get("Content-Security-Policy"); tc.wantStatus != 301 && (csp == "" || strings.Contains(csp, "unsafe-inline")) {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
}
