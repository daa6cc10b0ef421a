package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/privops/privops/shared/auth"
)

// TestTenantNameAndReasonLimitsCountCharacters onboards a tenant whose name
// is in Japanese and suspends one with a reason in Chinese: the limits the
// API states ("at most 200 characters", "at most 500 characters") count
// characters, not UTF-8 bytes, which refused a 67-character kanji name.
func TestTenantNameAndReasonLimitsCountCharacters(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	op := ta.operatorToken(t, auth.RoleOperatorAdmin)
	cases := []struct {
		name       string
		c          call
		wantStatus int
		wantField  string
	}{
		{"name of 200 kanji", call{method: "POST", path: "/api/operator/tenants", header: bearer(op),
			body: `{"id":"kabushiki","name":"` + strings.Repeat("株", 200) + `"}`}, http.StatusCreated, ""},
		{"name of 201 kanji", call{method: "POST", path: "/api/operator/tenants", header: bearer(op),
			body: `{"id":"kabushiki-2","name":"` + strings.Repeat("株", 201) + `"}`}, http.StatusUnprocessableEntity, "name"},
		{"reason of 500 hanzi", call{method: "POST", path: "/api/operator/tenants/kabushiki/suspend", header: bearer(op),
			body: `{"reason":"` + strings.Repeat("理", 500) + `"}`}, http.StatusOK, ""},
		{"reason of 501 hanzi", call{method: "POST", path: "/api/operator/tenants/acme/suspend", header: bearer(op),
			body: `{"reason":"` + strings.Repeat("理", 501) + `"}`}, http.StatusUnprocessableEntity, "reason"},
	}
	for _, tc := range cases {
		r := ta.do(t, tc.c)
		if r.status != tc.wantStatus || tc.wantField != "" && r.body["field"] != tc.wantField {
			t.Errorf("%s: got %d %v, want %d field %q", tc.name, r.status, r.body, tc.wantStatus, tc.wantField)
		}
	}
}
