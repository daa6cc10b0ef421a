package center_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/privops/privops/functions/center"
	"github.com/privops/privops/shared/privacy"
)

type tenants map[string]*privacy.Tenant

func (ts tenants) Tenant(_ context.Context, id string) (*privacy.Tenant, error) {
	if t, ok := ts[id]; ok {
		return t, nil
	}
	return nil, privacy.Errorf(privacy.KindNotFound, "unknown-tenant", "no such tenant")
}

func newCenter(tb testing.TB) http.Handler {
	tb.Helper()
	c, err := center.New(center.Deps{Tenants: tenants{
		"acme": {ID: "acme", Name: `Acme <script>alert(1)</script>`, Contact: "privacy@acme.example",
			Brand: privacy.Brand{PrimaryColor: "#0b5394", LogoURL: "https://cdn.acme.example/logo.svg"}},
		"plain": {ID: "plain", Name: "Plain"},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return c.Handler()
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPrivacyCenterPages(t *testing.T) {
	t.Parallel()
	h := newCenter(t)
	cases := []struct {
		name, path string
		header     []string
		wantStatus int
		want       []string // substrings of the body
		wantCSP    string   // substring of the Content-Security-Policy
	}{
		{"page in the tenant's brand", "/api/center/acme/", nil, 200,
			[]string{`<title>Acme &lt;script&gt;alert(1)&lt;/script&gt;</title>`, `src="https://cdn.acme.example/logo.svg"`,
				`data-api="/api/portal/acme"`, `<html lang="en">`, `<script type="module" src="app.js">`}, "img-src 'self' https://cdn.acme.example;"},
		{"chinese for a chinese browser", "/api/center/plain/", []string{"Accept-Language", "zh-CN,zh;q=0.9"}, 200,
			[]string{`<html lang="zh-Hans">`, `data-lang="zh-Hans"`}, "img-src 'self';"},
		{"no logo, no logo element", "/api/center/plain/", nil, 200, []string{`<span class="brand-name">Plain</span>`}, "script-src 'self';"},
		{"the tenant's colours", "/api/center/acme/brand.css", nil, 200, []string{"--primary:#0b5394", "--header:#1d2b3a"}, ""},
		{"default colours", "/api/center/plain/brand.css", nil, 200, []string{"--primary:#1f5fae"}, ""},
		{"the script", "/api/center/acme/app.js", nil, 200, []string{"privops-center"}, ""},
		{"the strings", "/api/center/acme/i18n.js", nil, 200, []string{"PRIVOPS_I18N", "隐私请求"}, ""},
		{"unknown tenant", "/api/center/nope/", nil, 404, []string{"Not found"}, ""},
		{"unknown file", "/api/center/acme/secrets.json", nil, 404, nil, ""},
		{"no tenant", "/api/center/", nil, 404, nil, ""},
		{"no trailing slash", "/api/center/acme", nil, 301, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := get(h, tc.path, tc.header...)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tc.wantStatus)
			}
			for _, s := range tc.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("body lacks %s:\n%s", s, w.Body)
				}
			}
			csp := w.Header().Get("Content-Security-Policy")
			if tc.wantStatus != 301 && (csp == "" || strings.Contains(csp, "unsafe-inline")) {
				t.Errorf("CSP %q", csp)
			}
			if !strings.Contains(csp, tc.wantCSP) {
				t.Errorf("CSP %q lacks %s", csp, tc.wantCSP)
			}
		})
	}
}

// TestPageHoldsNoInlineCode: the CSP forbids inline script and style, so the
// page must not carry any (it would be blocked and the page broken).
func TestPageHoldsNoInlineCode(t *testing.T) {
	t.Parallel()
	body := get(newCenter(t), "/api/center/plain/").Body.String()
	for _, bad := range []string{"<style", " style=", "<script>", " onclick=", " onload=", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("page holds inline code %q", bad)
		}
	}
}
