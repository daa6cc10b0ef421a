package console_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/privops/privops/functions/console"
)

func TestConsoleServesItsFilesOnly(t *testing.T) {
	t.Parallel()
	c, err := console.New(console.Config{TenantClaim: "tid"})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler()
	cases := []struct {
		path       string
		wantStatus int
		want       string
	}{
		{"/api/console/", 200, `<script type="module" src="main.js"></script>`},
		{"/api/console/core.js", 200, "/api/admin/"},
		{"/api/console/operator.js", 200, "/health"},
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

// TestConsoleConfigNamesTheProvider: with an issuer, config.json tells the
// page to offer the code flow, and the CSP lets it reach that origin only.
func TestConsoleConfigNamesTheProvider(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		cfg        console.Config
		wantConfig string
		wantCSP    string
	}{
		{"paste only", console.Config{TenantClaim: "tid"}, `{"tenantClaim":"tid"}`, "connect-src 'self';"},
		{"entra id", console.Config{TenantClaim: "extn.privopsTenant", OIDC: console.OIDC{Issuer: "https://login.microsoftonline.com/t1/v2.0",
			ClientID: "c1", Scope: "openid api://privops/.default"}},
			`{"oidc":{"issuer":"https://login.microsoftonline.com/t1/v2.0","clientId":"c1","scope":"openid api://privops/.default"},"tenantClaim":"extn.privopsTenant"}`,
			"connect-src 'self' https://login.microsoftonline.com;"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := console.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/api/console/config.json", "/api/console/"} {
				w := httptest.NewRecorder()
				c.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, tc.wantCSP) {
					t.Errorf("%s: CSP %q lacks %s", path, csp, tc.wantCSP)
				}
				if path == "/api/console/config.json" && w.Body.String() != tc.wantConfig {
					t.Errorf("config.json %s, want %s", w.Body, tc.wantConfig)
				}
			}
		})
	}
}

// TestConsoleModulesAreServed: every module the page loads or preloads, and
// every module those import, is one of the console's files: a module left
// out of the embed, or misnamed, would break the page for every admin.
func TestConsoleModulesAreServed(t *testing.T) {
	t.Parallel()
	c, err := console.New(console.Config{TenantClaim: "tid"})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		c.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}
	_, page := get("/api/console/")
	ref := regexp.MustCompile(`(?:src|href)="([\w-]+\.js)"|from '\./([\w-]+\.js)'|import '\./([\w-]+\.js)'`)
	seen := map[string]bool{}
	queue := []string{page}
	for len(queue) > 0 {
		body := queue[0]
		queue = queue[1:]
		for _, m := range ref.FindAllStringSubmatch(body, -1) {
			name := m[1] + m[2] + m[3]
			if seen[name] {
				continue
			}
			seen[name] = true
			code, js := get("/api/console/" + name)
			if code != http.StatusOK {
				t.Errorf("%s: %d", name, code)
				continue
			}
			queue = append(queue, js)
		}
	}
	for _, want := range []string{"main.js", "core.js", "session.js", "queue.js", "request.js", "services.js", "holds.js", "keys.js", "retention.js", "incidents.js", "operator.js"} {
		if !seen[want] {
			t.Errorf("the page never loads %s", want)
		}
	}
}
