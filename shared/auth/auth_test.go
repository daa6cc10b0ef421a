package auth

import (
	"context"
	"maps"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

var (
	fixedNow = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	hsKey    = []byte("0123456789abcdef0123456789abcdef")
)

const (
	testIssuer   = "https://id.example.org"
	testAudience = "privops-admin"
)

// baseClaims are valid claims at fixedNow; tests change one thing.
func baseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "admin-1", "tid": "tenant-a", "roles": []string{RoleApprover},
		"iss": testIssuer, "aud": testAudience,
		"iat": fixedNow.Unix(), "nbf": fixedNow.Unix(), "exp": fixedNow.Add(time.Hour).Unix(),
	}
}

// sign signs claims with method and key, setting header kid when not empty.
func sign(tb testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign token: %v", err)
	}
	return s
}

// signWithHeader signs claims with method and key, adding header's fields.
func signWithHeader(tb testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	maps.Copy(t.Header, header)
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign token: %v", err)
	}
	return s
}

// with returns baseClaims changed by f.
func with(f func(jwt.MapClaims)) jwt.MapClaims {
	c := baseClaims()
	f(c)
	return c
}

// wantCode checks that err carries a *privacy.Error of kind and code ("" code:
// no error) and that its text does not repeat token.
func wantCode(tb testing.TB, err error, kind privacy.Kind, code, token string) {
	tb.Helper()
	if code == "" {
		if err != nil {
			tb.Fatalf("error = %v, want none", err)
		}
		return
	}
	pe, ok := privacy.AsError(err)
	if !ok {
		tb.Fatalf("error = %v, want a *privacy.Error %s", err, code)
	}
	if diff := cmp.Diff([]any{kind, code}, []any{pe.Kind, pe.Code}); diff != "" {
		tb.Errorf("error %v kind and code (-want +got):\n%s", err, diff)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		tb.Errorf("error %q repeats the token", err)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) > 8 && strings.Contains(err.Error(), part) {
			tb.Errorf("error %q repeats part of the token", err)
		}
	}
}

func TestHS256Verify(t *testing.T) {
	t.Parallel()
	otherKey := []byte("another-key-another-key-another-")
	tests := []struct {
		name     string
		token    string
		issuer   string
		audience string
		want     Claims
		wantCode string
	}{
		{
			name:  "valid",
			token: sign(t, jwt.SigningMethodHS256, hsKey, "", baseClaims()),
			want:  Claims{Subject: "admin-1", TenantID: "tenant-a", Roles: []string{RoleApprover}, ExpiresAt: fixedNow.Add(time.Hour)},
		},
		{
			name:   "issuer and audience not configured are not checked",
			token:  sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { delete(c, "iss"); delete(c, "aud") })),
			issuer: "-", audience: "-",
			want: Claims{Subject: "admin-1", TenantID: "tenant-a", Roles: []string{RoleApprover}, ExpiresAt: fixedNow.Add(time.Hour)},
		},
		{
			name:  "expired within the leeway",
			token: sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["exp"] = fixedNow.Add(-59 * time.Second).Unix() })),
			want:  Claims{Subject: "admin-1", TenantID: "tenant-a", Roles: []string{RoleApprover}, ExpiresAt: fixedNow.Add(-59 * time.Second)},
		},
		{
			name:     "no token",
			token:    "",
			wantCode: CodeMissingToken,
		},
		{
			name:     "garbage",
			token:    "not.a.token",
			wantCode: CodeInvalidToken,
		},
		{
			name:     "forged signature",
			token:    sign(t, jwt.SigningMethodHS256, otherKey, "", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name: "tampered payload",
			token: func() string {
				good := strings.Split(sign(t, jwt.SigningMethodHS256, hsKey, "", baseClaims()), ".")
				evil := strings.Split(sign(t, jwt.SigningMethodHS256, otherKey, "", with(func(c jwt.MapClaims) { c["roles"] = []string{RoleAdmin} })), ".")
				return good[0] + "." + evil[1] + "." + good[2]
			}(),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "alg none",
			token:    sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "HS512 with the right key",
			token:    sign(t, jwt.SigningMethodHS512, hsKey, "", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "expired",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["exp"] = fixedNow.Add(-61 * time.Second).Unix() })),
			wantCode: CodeTokenExpired,
		},
		{
			name:     "no exp",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { delete(c, "exp") })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "not yet valid",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["nbf"] = fixedNow.Add(2 * time.Minute).Unix() })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "issued in the future",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["iat"] = fixedNow.Add(2 * time.Minute).Unix() })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "wrong issuer",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.net" })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "no issuer",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { delete(c, "iss") })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "wrong audience",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["aud"] = []string{"other-api"} })),
			wantCode: CodeInvalidToken,
		},
		{
			name:  "no tenant claim is an operator token",
			token: sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { delete(c, "tid"); c["roles"] = []string{RoleOperatorViewer} })),
			want:  Claims{Subject: "admin-1", Operator: true, Roles: []string{RoleOperatorViewer}, ExpiresAt: fixedNow.Add(time.Hour)},
		},
		{
			name:     "tenant claim not a string",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["tid"] = 42 })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "roles claim not strings",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["roles"] = []any{1, 2} })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "missing sub",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { delete(c, "sub") })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "crit header",
			token:    signWithHeader(t, jwt.SigningMethodHS256, hsKey, map[string]any{"crit": []string{"exp"}}, baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "empty crit header",
			token:    signWithHeader(t, jwt.SigningMethodHS256, hsKey, map[string]any{"crit": []string{}}, baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "exp a string of digits",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["exp"] = strconv.FormatInt(fixedNow.Add(time.Hour).Unix(), 10) })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "exp a date string",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["exp"] = fixedNow.Add(time.Hour).Format(time.RFC3339) })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "exp null",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["exp"] = nil })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "exp a boolean",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["exp"] = true })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "nbf a string",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["nbf"] = strconv.FormatInt(fixedNow.Unix(), 10) })),
			wantCode: CodeInvalidToken,
		},
		{
			name:  "exp with a fraction",
			token: sign(t, jwt.SigningMethodHS256, hsKey, "", with(func(c jwt.MapClaims) { c["exp"] = float64(fixedNow.Add(time.Hour).Unix()) + 0.5 })),
			want:  Claims{Subject: "admin-1", TenantID: "tenant-a", Roles: []string{RoleApprover}, ExpiresAt: fixedNow.Add(time.Hour)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			issuer, audience := testIssuer, testAudience
			if tc.issuer == "-" {
				issuer, audience = "", ""
			}
			v, err := NewHS256(hsKey, issuer, audience, func() time.Time { return fixedNow })
			if err != nil {
				t.Fatalf("NewHS256: %v", err)
			}
			got, err := v.Verify(context.Background(), tc.token)
			wantCode(t, err, privacy.KindUnauthorized, tc.wantCode, tc.token)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMint(t *testing.T) {
	t.Parallel()
	c := Claims{Subject: "dev", TenantID: "tenant-a", Roles: []string{RoleAdmin}}
	tests := []struct {
		name     string
		key      []byte
		claims   Claims
		ttl      time.Duration
		verifyAt time.Time
		want     Claims
		wantErr  bool
		wantCode string
	}{
		{name: "round trip", key: hsKey, claims: c, ttl: time.Hour, verifyAt: fixedNow.Add(30 * time.Minute),
			want: Claims{Subject: "dev", TenantID: "tenant-a", Roles: []string{RoleAdmin}, ExpiresAt: fixedNow.Add(time.Hour)}},
		{name: "expires after ttl", key: hsKey, claims: c, ttl: time.Hour, verifyAt: fixedNow.Add(time.Hour + 2*time.Minute),
			wantCode: CodeTokenExpired},
		{name: "short key", key: []byte("short"), claims: c, ttl: time.Hour, wantErr: true},
		{name: "no ttl", key: hsKey, claims: c, ttl: 0, wantErr: true},
		{name: "neither tenant nor operator", key: hsKey, claims: Claims{Subject: "dev"}, ttl: time.Hour, wantErr: true},
		{name: "both tenant and operator", key: hsKey, claims: Claims{Subject: "dev", TenantID: "tenant-a", Operator: true}, ttl: time.Hour, wantErr: true},
		{name: "operator round trip", key: hsKey, claims: Claims{Subject: "ops", Operator: true, Roles: []string{RoleOperatorAdmin}},
			ttl: time.Hour, verifyAt: fixedNow,
			want: Claims{Subject: "ops", Operator: true, Roles: []string{RoleOperatorAdmin}, ExpiresAt: fixedNow.Add(time.Hour)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token, err := Mint(tc.key, tc.claims, testIssuer, testAudience, fixedNow, tc.ttl)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("Mint error = %v, want error %t", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			v, err := NewHS256(hsKey, testIssuer, testAudience, func() time.Time { return tc.verifyAt })
			if err != nil {
				t.Fatalf("NewHS256: %v", err)
			}
			got, err := v.Verify(context.Background(), token)
			wantCode(t, err, privacy.KindUnauthorized, tc.wantCode, token)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewHS256RefusesShortKey(t *testing.T) {
	t.Parallel()
	if _, err := NewHS256([]byte("too-short"), "", "", nil); err == nil {
		t.Error("NewHS256 accepted a 9-byte key")
	}
}

func TestFromRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		header   []string
		want     string
		wantCode string
	}{
		{name: "bearer", header: []string{"Bearer abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "scheme is case-insensitive", header: []string{"bEaReR abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "extra spaces", header: []string{"Bearer   abc.def.ghi  "}, want: "abc.def.ghi"},
		{name: "absent", wantCode: CodeMissingToken},
		{name: "empty", header: []string{""}, wantCode: CodeMissingToken},
		{name: "scheme only", header: []string{"Bearer"}, wantCode: CodeMissingToken},
		{name: "scheme and space", header: []string{"Bearer "}, wantCode: CodeMissingToken},
		{name: "basic", header: []string{"Basic dXNlcjpwYXNz"}, wantCode: CodeMissingToken},
		{name: "two words", header: []string{"Bearer abc def"}, wantCode: CodeMissingToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/admin/requests", nil)
			for _, h := range tc.header {
				r.Header.Add("Authorization", h)
			}
			got, err := FromRequest(r)
			wantCode(t, err, privacy.KindUnauthorized, tc.wantCode, "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("token (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMapping(t *testing.T) {
	t.Parallel()
	m := Mapping{TenantClaim: "extn.privopsTenant", RolesClaim: "privops_roles", OperatorTenant: "11111111-2222-3333-4444-555555555555"}
	tests := []struct {
		name string
		f    func(jwt.MapClaims)
		want Claims
	}{
		{"the tenant from the custom claim, not tid", func(c jwt.MapClaims) {
			c["tid"] = "11111111-2222-3333-4444-555555555555"
			c["extn.privopsTenant"] = "acme"
			c["privops_roles"] = []string{RoleAdmin}
		}, Claims{Subject: "admin-1", TenantID: "acme", Roles: []string{RoleAdmin}, ExpiresAt: fixedNow.Add(time.Hour)}},
		{"the operator's own tenant value is an operator token", func(c jwt.MapClaims) {
			c["extn.privopsTenant"] = "11111111-2222-3333-4444-555555555555"
			c["privops_roles"] = "operator-admin security-officer"
		}, Claims{Subject: "admin-1", Operator: true, Roles: []string{RoleOperatorAdmin, RoleSecurityOfficer}, ExpiresAt: fixedNow.Add(time.Hour)}},
		{"no custom tenant claim is an operator token; the default claims are ignored", func(c jwt.MapClaims) {
			c["privops_roles"] = []string{RoleOperatorViewer}
		}, Claims{Subject: "admin-1", Operator: true, Roles: []string{RoleOperatorViewer}, ExpiresAt: fixedNow.Add(time.Hour)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewHS256(hsKey, testIssuer, testAudience, func() time.Time { return fixedNow })
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.WithMapping(m).Verify(context.Background(), sign(t, jwt.SigningMethodHS256, hsKey, "", with(tc.f)))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOperatorAndTenantRolesDoNotMix(t *testing.T) {
	t.Parallel()
	all := []Action{ActionRead, ActionDecide, ActionSubmit, ActionConfigure, ActionReadAudit, ActionOperatorRead, ActionManageTenants, ActionManageIncidents}
	every := append(append([]string{}, TenantRoles...), OperatorRoles...)
	tests := []struct {
		name   string
		claims Claims
		want   []Action
	}{
		{"tenant token with every role", Claims{TenantID: "acme", Roles: every}, []Action{ActionRead, ActionDecide, ActionSubmit, ActionConfigure, ActionReadAudit}},
		{"operator token with every role", Claims{Operator: true, Roles: every}, []Action{ActionOperatorRead, ActionManageTenants, ActionManageIncidents}},
		{"operator-admin", Claims{Operator: true, Roles: []string{RoleOperatorAdmin}}, []Action{ActionOperatorRead, ActionManageTenants}},
		{"security-officer", Claims{Operator: true, Roles: []string{RoleSecurityOfficer}}, []Action{ActionOperatorRead, ActionManageIncidents}},
		{"operator-viewer", Claims{Operator: true, Roles: []string{RoleOperatorViewer}}, []Action{ActionOperatorRead}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []Action
			for _, a := range all {
				if tc.claims.Can(a) {
					got = append(got, a)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("allowed actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClaimsCan(t *testing.T) {
	t.Parallel()
	actions := []Action{ActionRead, ActionDecide, ActionSubmit, ActionConfigure, ActionReadAudit}
	tests := []struct {
		name  string
		roles []string
		want  []Action
	}{
		{"admin", []string{RoleAdmin}, actions},
		{"approver", []string{RoleApprover}, []Action{ActionRead, ActionDecide, ActionSubmit}},
		{"viewer", []string{RoleViewer}, []Action{ActionRead, ActionReadAudit}},
		{"approver and viewer", []string{RoleApprover, RoleViewer}, []Action{ActionRead, ActionDecide, ActionSubmit, ActionReadAudit}},
		{"no role", nil, nil},
		{"unknown role", []string{"Privacy-Admin", "admin"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Claims{Subject: "u", TenantID: "t", Roles: tc.roles}
			var got []Action
			for _, a := range append(actions, Action("delete-everything")) {
				if c.Can(a) {
					got = append(got, a)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("allowed actions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMintWithMapping: a dev token minted with a Mapping carries the tenant and
// roles under the mapped claims, so that the verifier with the same Mapping
// reads it back; the default verifier reads no tenant from it.
func TestMintWithMapping(t *testing.T) {
	t.Parallel()
	m := Mapping{TenantClaim: "extn.privopsTenant", RolesClaim: "privops_roles"}
	tests := []struct {
		name   string
		claims Claims
	}{
		{"tenant token", Claims{Subject: "alice", TenantID: "acme", Roles: []string{RoleAdmin, RoleViewer}}},
		{"operator token", Claims{Subject: "olga", Operator: true, Roles: []string{RoleOperatorAdmin}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := MintWith(hsKey, m, tc.claims, testIssuer, testAudience, fixedNow, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			v, err := NewHS256(hsKey, testIssuer, testAudience, func() time.Time { return fixedNow })
			if err != nil {
				t.Fatal(err)
			}
			want := tc.claims
			want.ExpiresAt = fixedNow.Add(time.Hour)
			got, err := v.WithMapping(m).Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("claims with the mapping (-want +got):\n%s", diff)
			}
			plain, err := NewHS256(hsKey, testIssuer, testAudience, func() time.Time { return fixedNow })
			if err != nil {
				t.Fatal(err)
			}
			got, err = plain.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.TenantID != "" || !got.Operator || got.Roles != nil {
				t.Errorf("default mapping read %+v, want an operator token without roles", got)
			}
		})
	}
}
