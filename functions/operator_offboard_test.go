package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/offboard"
)

// TestOperatorOffboardsOverHTTP: an operator-admin offboards acme
// (If-Match, Idempotency-Key), which refuses new requests from then on with
// tenant-offboarding; the return package is built by the watch's step and
// downloaded with its link and no token; a cancel (If-Match) brings acme
// back to active and deletes the package. Every step is in both chains.
func TestOperatorOffboardsOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	op := ta.operatorToken(t, auth.RoleOperatorAdmin)
	viewer := bearer(ta.operatorToken(t, auth.RoleOperatorViewer))
	admin := bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey))
	etag := ta.do(t, call{method: "GET", path: "/api/operator/tenants/acme", header: viewer}).header.Get("ETag")

	h := ifMatch(op, etag)
	h["Idempotency-Key"] = "offboard-acme-1"
	r := ta.do(t, call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: h, body: `{"choice":"return-then-delete"}`})
	if r.status != http.StatusAccepted || r.body["status"] != "offboarding" || r.header.Get("Location") != "/api/operator/tenants/acme/offboarding" {
		t.Fatalf("offboard: %d %v %v", r.status, r.header, r.body)
	}
	first := r.body["offboarding"].(map[string]any)["id"]
	// Sent again after a lost answer: the same offboarding, not a conflict.
	again := ta.do(t, call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: h, body: `{"choice":"return-then-delete"}`})
	if again.status != http.StatusAccepted || again.body["offboarding"].(map[string]any)["id"] != first {
		t.Errorf("replay with the same Idempotency-Key: %d %v", again.status, again.body)
	}
	before := ta.operatorState(t)
	for _, c := range []call{
		{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"ada@example.com","country":"DE"}`},
		{method: "POST", path: "/api/admin/acme/requests", header: admin, body: `{"type":"erase","email":"ada@example.com","country":"DE"}`},
	} {
		if r := ta.do(t, c); r.status != http.StatusForbidden || r.code != "tenant-offboarding" {
			t.Errorf("%s %s while offboarding: %d %q", c.method, c.path, r.status, r.code)
		}
	}
	if r := ta.do(t, call{method: "POST", path: "/api/operator/tenants/acme/suspend", header: bearer(op), body: `{"reason":"x"}`}); r.code != "tenant-offboarding-already" {
		t.Errorf("suspend while offboarding: %d %q", r.status, r.code)
	}
	if after := ta.operatorState(t); after != before {
		t.Errorf("refused calls changed state:\n%s→\n%s", before, after)
	}

	// The watch's step builds the package; the operator reads the link.
	if out, err := ta.offboarder.RunTenant(context.Background(), "acme"); err != nil || out != offboard.Waiting {
		t.Fatalf("offboarding run: %s %v", out, err)
	}
	v := ta.do(t, call{method: "GET", path: "/api/operator/tenants/acme/offboarding", header: viewer})
	pkg, _ := v.body["package"].(map[string]any)
	if v.status != 200 || v.body["state"] != "notice-period" || pkg == nil {
		t.Fatalf("offboarding view: %d %v", v.status, v.body)
	}
	link, err := url.Parse(pkg["link"].(string))
	if err != nil {
		t.Fatal(err)
	}
	dl := ta.do(t, call{method: "GET", path: link.Path + "?" + link.RawQuery})
	if dl.status != 200 || dl.header.Get("Content-Type") != "application/zip" || !strings.HasPrefix(dl.text, "PK") {
		t.Errorf("download with the link alone: %d %v", dl.status, dl.header)
	}
	tampered := strings.Replace(link.RawQuery, "expires=", "expires=1", 1)
	if r := ta.do(t, call{method: "GET", path: link.Path + "?" + tampered}); r.status != 404 || r.code != "unknown-package" {
		t.Errorf("download with a tampered link: %d %q", r.status, r.code)
	}

	etag = ta.do(t, call{method: "GET", path: "/api/operator/tenants/acme", header: viewer}).header.Get("ETag")
	r = ta.do(t, call{method: "POST", path: "/api/operator/tenants/acme/offboard/cancel", header: ifMatch(op, etag)})
	if r.status != 200 || r.body["status"] != "active" || r.body["offboarding"] != nil {
		t.Fatalf("cancel: %d %v", r.status, r.body)
	}
	if r := ta.do(t, call{method: "GET", path: link.Path + "?" + link.RawQuery}); r.status != 404 {
		t.Errorf("download after the cancel: %d %q", r.status, r.code)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests", header: admin,
		body: `{"type":"erase","email":"ada@example.com","country":"DE"}`}); r.status != http.StatusCreated {
		t.Errorf("a new request after the cancel: %d %q", r.status, r.code)
	}
	want := []string{"tenant.offboarding-requested", "tenant.offboarding-packaged", "tenant.offboarding-package-downloaded", "tenant.offboarding-cancelled"}
	for _, chain := range []string{"/api/operator/audit", "/api/admin/acme/audit"} {
		tok := bearer(op)
		if strings.Contains(chain, "admin") {
			tok = admin
		}
		var got []string
		for _, a := range chainActions(t, ta.srv.URL+chain, strings.TrimPrefix(tok["Authorization"], "Bearer ")) {
			if strings.HasPrefix(a, "tenant.offboarding") {
				got = append(got, a)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", chain, got, want)
		}
	}
}
