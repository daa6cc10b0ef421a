package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/privops/privops/functions/openapi"
	"github.com/privops/privops/shared/auth"
)

// TestResponsesMatchTheOpenAPIDocument records the answers of a walk through
// the API, successes and errors, and checks each one against the document
// with a real OpenAPI 3.1 validator: its status is documented for the
// operation, its content type declared, and its body valid against the
// schema (additionalProperties false included).
func TestResponsesMatchTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc, err := libopenapi.NewDocument(openapi.Document)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ta := newTestApp(t)
	admin := bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey))
	check := func(c call) map[string]any {
		t.Helper()
		req, res, body := ta.exchange(t, c)
		if ok, verrs := v.ValidateHttpResponse(req, res); !ok {
			for _, e := range verrs {
				t.Errorf("%s %s → %d: %s: %s", c.method, c.path, res.StatusCode, e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("    %s at %s", se.Reason, se.FieldPath)
				}
			}
			t.Logf("body: %s", body)
		}
		return ta.decoded(body)
	}

	sub := check(call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"oas@example.com","country":"DE"}`})
	id, _ := sub["id"].(string)
	tok, _ := sub["token"].(string)
	check(call{method: "GET", path: "/api/portal/acme/requests/" + id, header: bearer(tok)})
	check(call{method: "POST", path: "/api/portal/acme/requests/" + id + "/verify", header: bearer(tok), body: `{"code":"` + ta.mail.lastCode(t) + `"}`})
	check(call{method: "GET", path: "/api/admin/acme/requests", header: admin})
	check(call{method: "GET", path: "/api/admin/acme/requests/" + id, header: admin})
	check(call{method: "POST", path: "/api/admin/acme/requests/" + id + "/extend", header: admin, body: `{"reason":"many requests this month"}`})
	check(call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: admin})
	check(call{method: "GET", path: "/api/admin/acme/requests/" + id + "/certificate", header: admin})
	check(call{method: "GET", path: "/api/admin/acme/audit", header: admin})
	check(call{method: "GET", path: "/api/admin/acme/audit/verify", header: admin})
	settings := check(call{method: "GET", path: "/api/admin/acme/settings", header: admin})
	settings["exportLinkDays"] = 3
	check(call{method: "PUT", path: "/api/admin/acme/settings", header: admin, body: ta.encoded(settings)})
	check(call{method: "PUT", path: "/api/admin/acme/services/crm", header: admin,
		body: `{"id":"crm","name":"CRM","kind":"webhook","url":"https://crm.example.com/privops","actions":["export","erase","lookup"],"categories":["profile"],"identifiers":["email"]}`})
	check(call{method: "GET", path: "/api/admin/acme/services", header: admin})
	check(call{method: "GET", path: "/api/admin/acme/services/crm", header: admin})
	check(call{method: "POST", path: "/api/admin/acme/services/crm/rotate-secret", header: admin})
	hold := check(call{method: "POST", path: "/api/admin/acme/holds", header: admin, body: `{"scope":"tenant","reason":"litigation"}`})
	check(call{method: "GET", path: "/api/admin/acme/holds", header: admin})
	if hid, ok := hold["id"].(string); ok {
		check(call{method: "POST", path: "/api/admin/acme/holds/" + hid + "/release", header: admin})
	}
	check(call{method: "GET", path: "/api/admin/acme/tombstones", header: admin})
	check(call{method: "POST", path: "/api/admin/acme/inbound-keys", header: admin})
	check(call{method: "GET", path: "/api/admin/acme/inbound-keys", header: admin})
	check(call{method: "GET", path: "/api/admin/acme/inbound", header: admin})
	check(call{method: "DELETE", path: "/api/admin/acme/services/crm", header: admin})

	// Errors: each is a documented status, or the default problem answer.
	check(call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"a@b.co","email":"c@d.co","country":"DE"}`})
	check(call{method: "POST", path: "/api/portal/acme/requests", body: `null`})
	check(call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: admin, body: `{"reason":"x"}`})
	check(call{method: "POST", path: "/api/admin/acme/requests/" + id + "/deny", header: admin})
	check(call{method: "GET", path: "/api/admin/acme/requests"})
	check(call{method: "GET", path: "/api/admin/acme/requests/nope", header: admin})
	check(call{method: "GET", path: "/api/portal/acme/requests/" + id})
	check(call{method: "GET", path: "/api/openapi.json"})

	// Offboarding: the request, its progress with the package link, the
	// package, a refusal, the cancel.
	op := ta.operatorToken(t, auth.RoleOperatorAdmin)
	_, res, _ := ta.exchange(t, call{method: "GET", path: "/api/operator/tenants/globex", header: bearer(op)})
	etag := res.Header.Get("ETag")
	check(call{method: "POST", path: "/api/operator/tenants/globex/offboard", header: ifMatch(op, etag), body: `{"choice":"return-then-delete"}`})
	check(call{method: "POST", path: "/api/operator/tenants/globex/offboard", header: ifMatch(op, etag), body: `{"choice":"keep"}`})
	if _, err := ta.offboarder.RunTenant(t.Context(), "globex"); err != nil {
		t.Fatal(err)
	}
	view := check(call{method: "GET", path: "/api/operator/tenants/globex/offboarding", header: bearer(op)})
	if pkg, ok := view["package"].(map[string]any); ok {
		link := strings.TrimPrefix(pkg["link"].(string), "http://"+ta.cfg.HTTPAddr)
		check(call{method: "GET", path: link})
	} else {
		t.Errorf("offboarding view without a package: %v", view)
	}
	_, res, _ = ta.exchange(t, call{method: "GET", path: "/api/operator/tenants/globex", header: bearer(op)})
	check(call{method: "POST", path: "/api/operator/tenants/globex/offboard/cancel", header: ifMatch(op, res.Header.Get("ETag"))})
	check(call{method: "GET", path: "/api/operator/tenants/globex/offboarding", header: bearer(op)})
}

// exchange sends c and returns the request, the response with its body
// restored for the validator, and the body.
func (ta *testApp) exchange(tb testing.TB, c call) (*http.Request, *http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(c.method, ta.srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		tb.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, val := range c.header {
		req.Header.Set(k, val)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	return req, res, body
}

// decoded is body as a JSON object, or nil.
func (ta *testApp) decoded(body []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return m
}

// encoded is v as JSON.
func (ta *testApp) encoded(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
