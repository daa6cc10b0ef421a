package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/privacy"
)

// entraIdP stands in for Microsoft Entra ID: it serves its signing key as a
// JWKS over HTTP, as https://login.microsoftonline.com/{tid}/discovery/v2.0/keys
// does, and issues RS256 access tokens shaped like the recorded v2.0 token in
// testdata/entra.
type entraIdP struct {
	key     *rsa.PrivateKey
	kid     string
	claims  map[string]any // the recorded token's claims
	srv     *httptest.Server
	fetches atomic.Int64
}

func newEntraIdP(tb testing.TB) *entraIdP {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "entra", "access-token-v2.json"))
	if err != nil {
		tb.Fatal(err)
	}
	idp := &entraIdP{key: key}
	if err := json.Unmarshal(b, &idp.claims); err != nil {
		tb.Fatal(err)
	}
	delete(idp.claims, "_comment")
	// Entra ID publishes each key with its self-signed certificate (x5c).
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	thumb := sha1.Sum(cert)                                  //nolint:gosec // x5t is the certificate's SHA-1 thumbprint (RFC 7517 §4.8)
	idp.kid = base64.RawURLEncoding.EncodeToString(thumb[:]) // Entra ID's kid is the x5t
	idp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idp.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// Entra ID's keys: RSA, "use":"sig", a kid, the certificate and
		// the issuer, no "alg".
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "use": "sig", "kid": idp.kid, "x5t": idp.kid,
			"n":      base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
			"x5c":    []string{base64.StdEncoding.EncodeToString(cert)},
			"issuer": idp.issuer(),
		}}})
	}))
	tb.Cleanup(idp.srv.Close)
	return idp
}

func (idp *entraIdP) issuer() string   { return idp.claims["iss"].(string) }
func (idp *entraIdP) audience() string { return idp.claims["aud"].(string) }
func (idp *entraIdP) jwksURL() string  { return idp.srv.URL + "/discovery/v2.0/keys" }

// token issues an access token valid now: the recorded claims, changed by
// change (a nil value deletes the claim).
func (idp *entraIdP) token(tb testing.TB, change map[string]any) string {
	tb.Helper()
	c := jwt.MapClaims{}
	maps.Copy(c, idp.claims)
	now := time.Now()
	c["iat"], c["nbf"], c["exp"] = now.Add(-time.Minute).Unix(), now.Add(-time.Minute).Unix(), now.Add(time.Hour).Unix()
	for k, v := range change {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = idp.kid
	s, err := t.SignedString(idp.key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestEntraIDClaimMapping runs RS256 tokens from a JWKS served by the test
// through the JWKS verifier and the real admin handler, with the claim mapping
// infra/README.md documents: the privops tenant in a directory extension
// (extn.privopsTenant), so that one directory holds two privops tenants
// (acme and globex); roles from the mapped claim; and the operator's staff
// (no tenant claim, or the operator's value) kept out of every tenant route.
func TestEntraIDClaimMapping(t *testing.T) {
	t.Parallel()
	idp := newEntraIdP(t)
	newApp := func(tb testing.TB, m auth.Mapping) *testApp {
		tb.Helper()
		v, err := auth.NewJWKS(idp.jwksURL(), idp.issuer(), idp.audience(), idp.srv.Client(), time.Now)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(v.Close)
		return newTestApp(tb, v.WithMapping(m))
	}
	entra := newApp(t, auth.Mapping{TenantClaim: "extn.privopsTenant", RolesClaim: "roles", OperatorTenant: "privops-operator"})
	// A misconfiguration the operator CLI must refuse (a tenant whose id is
	// AUTH_OPERATOR_TENANT): it fails closed.
	operatorIsGlobex := newApp(t, auth.Mapping{TenantClaim: "extn.privopsTenant", OperatorTenant: "globex"})
	customRoles := newApp(t, auth.Mapping{TenantClaim: "extn.privopsTenant", RolesClaim: "extn.privopsRoles"})
	dirID := idp.claims["tid"].(string)

	cases := []struct {
		name   string
		app    *testApp
		claims map[string]any // changes to the recorded token
		path   string
		want   int
	}{
		{"acme's admin reads acme", entra, nil, "/api/admin/acme/settings", http.StatusOK},
		{"acme's admin reads acme's audit", entra, nil, "/api/admin/acme/audit", http.StatusOK},
		{"acme's admin cannot see globex, same directory", entra, nil, "/api/admin/globex/settings", http.StatusNotFound},
		{"globex's admin reads globex, same directory", entra,
			map[string]any{"extn.privopsTenant": "globex", "oid": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"}, "/api/admin/globex/settings", http.StatusOK},
		{"globex's admin cannot see acme", entra, map[string]any{"extn.privopsTenant": "globex"}, "/api/admin/acme/settings", http.StatusNotFound},
		{"the directory id no longer names a tenant", entra, map[string]any{"extn.privopsTenant": nil, "tid": "acme"},
			"/api/admin/acme/settings", http.StatusNotFound},
		{"operator staff without a tenant claim, tenant roles", entra, map[string]any{"extn.privopsTenant": nil},
			"/api/admin/acme/settings", http.StatusNotFound},
		{"operator staff without a tenant claim, operator role", entra,
			map[string]any{"extn.privopsTenant": nil, "roles": []string{auth.RoleOperatorAdmin}}, "/api/admin/acme/settings", http.StatusNotFound},
		{"the operator's tenant value is an operator token", entra,
			map[string]any{"extn.privopsTenant": "privops-operator", "roles": []string{auth.RoleAdmin, auth.RoleOperatorAdmin}},
			"/api/admin/acme/settings", http.StatusNotFound},
		{"a tenant named like AUTH_OPERATOR_TENANT is unreachable, not taken over", operatorIsGlobex,
			map[string]any{"extn.privopsTenant": "globex"}, "/api/admin/globex/settings", http.StatusNotFound},
		{"approver role from the roles claim: no audit", entra, map[string]any{"roles": []string{auth.RoleApprover}},
			"/api/admin/acme/audit", http.StatusForbidden},
		{"viewer role from the roles claim: audit", entra, map[string]any{"roles": []string{auth.RoleViewer}},
			"/api/admin/acme/audit", http.StatusOK},
		{"no app role assigned", entra, map[string]any{"roles": nil}, "/api/admin/acme/settings", http.StatusForbidden},
		{"roles from a custom claim, space-separated", customRoles,
			map[string]any{"extn.privopsRoles": "privacy-viewer", "roles": nil}, "/api/admin/acme/audit", http.StatusOK},
		{"a custom roles claim ignores roles", customRoles,
			map[string]any{"roles": []string{auth.RoleAdmin}}, "/api/admin/acme/settings", http.StatusForbidden},
		{"another issuer (directory)", entra,
			map[string]any{"iss": "https://login.microsoftonline.com/" + dirID[:8] + "-0000-4000-8000-000000000000/v2.0"},
			"/api/admin/acme/settings", http.StatusUnauthorized},
		{"a token for another app", entra, map[string]any{"aud": "00000003-0000-0000-c000-000000000000"},
			"/api/admin/acme/settings", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.app.do(t, call{method: "GET", path: tc.path, header: bearer(idp.token(t, tc.claims))})
			if r.status != tc.want {
				t.Errorf("GET %s = %d %s, want %d", tc.path, r.status, r.code, tc.want)
			}
			if tc.want == http.StatusNotFound && r.code != "unknown-tenant" {
				t.Errorf("GET %s code %q, want unknown-tenant (as for a tenant that does not exist)", tc.path, r.code)
			}
		})
	}
	t.Cleanup(func() {
		// Each verifier fetched the key set once: the tokens all name its kid.
		if got := idp.fetches.Load(); got != 3 {
			t.Errorf("%d key set fetches, want 3 (one per verifier)", got)
		}
	})
}

// TestDemoTenantIsStandaloneOnly: the demo tenant (and its printed dev token)
// exists standalone only; on Azure and Lambda, DEMO_TENANT=true creates
// nothing, so a first deployment holds only the tenants the operator creates.
func TestDemoTenantIsStandaloneOnly(t *testing.T) {
	cloud := map[string]string{"AUTH_MODE": "jwks", "AUTH_JWKS_URL": "https://login.example.com/keys",
		"SECRET_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))}
	cases := []struct {
		name string
		host map[string]string
		want bool
	}{
		{"standalone", nil, true},
		{"azure", map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "39124"}, false},
		{"lambda", map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DATA_DIR", t.TempDir())
			t.Setenv("DEMO_TENANT", "true")
			if tc.host != nil {
				for k, v := range cloud {
					t.Setenv(k, v)
				}
			}
			for k, v := range tc.host {
				t.Setenv(k, v)
			}
			cfg, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			a, err := build(t.Context(), cfg, logging.New(io.Discard, "error"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			var out bytes.Buffer
			if err := a.demo(context.Background(), &out); err != nil {
				t.Fatal(err)
			}
			_, err = a.store.GetTenant(context.Background(), "demo")
			if got := err == nil; got != tc.want {
				t.Errorf("demo tenant exists = %t (%v), want %t", got, err, tc.want)
			}
			if !tc.want && (out.Len() != 0 || !errors.Is(err, privacy.ErrNotFound)) {
				t.Errorf("printed %q, store error %v; want nothing printed and not found", out.String(), err)
			}
		})
	}
}

// TestEntraAppRegistration keeps infra/entra/api-app.json, the app roles and
// scope infra/README.md registers, in step with the code: one app role per
// tenant and operator role, for users, with distinct ids, and v2 access tokens
// (whose issuer and audience AUTH_ISSUER and AUTH_AUDIENCE expect).
func TestEntraAppRegistration(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(infraDir, "entra", "api-app.json"))
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		API struct {
			RequestedAccessTokenVersion int `json:"requestedAccessTokenVersion"`
			Scopes                      []struct {
				ID, Value, Type string
				IsEnabled       bool
			} `json:"oauth2PermissionScopes"`
		} `json:"api"`
		AppRoles []struct {
			ID, Value          string
			AllowedMemberTypes []string
			IsEnabled          bool
		} `json:"appRoles"`
	}
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatal(err)
	}
	if app.API.RequestedAccessTokenVersion != 2 {
		t.Errorf("requestedAccessTokenVersion = %d, want 2 (v2 tokens: issuer .../v2.0, aud the client id)", app.API.RequestedAccessTokenVersion)
	}
	if len(app.API.Scopes) != 1 || app.API.Scopes[0].Value != "user_impersonation" || app.API.Scopes[0].Type != "User" || !app.API.Scopes[0].IsEnabled {
		t.Errorf("scopes = %+v, want one enabled user scope user_impersonation (the Azure CLI is pre-authorized for it)", app.API.Scopes)
	}
	var values []string
	ids := map[string]bool{}
	for _, r := range app.AppRoles {
		values = append(values, r.Value)
		if ids[r.ID] || r.ID == app.API.Scopes[0].ID {
			t.Errorf("app role %s: id %s is used twice", r.Value, r.ID)
		}
		ids[r.ID] = true
		if !r.IsEnabled || len(r.AllowedMemberTypes) != 1 || r.AllowedMemberTypes[0] != "User" {
			t.Errorf("app role %s: enabled %t, member types %v; want enabled, for users", r.Value, r.IsEnabled, r.AllowedMemberTypes)
		}
	}
	want := append(slices.Clone(auth.TenantRoles), auth.OperatorRoles...)
	if diff := cmp.Diff(want, values); diff != "" {
		t.Errorf("app roles (-want +got):\n%s", diff)
	}
}

// TestDevTokenUsesTheClaimMapping: `privops token` writes the tenant and roles
// under the claims AUTH_TENANT_CLAIM and AUTH_ROLES_CLAIM name, so that a dev
// token still names its tenant when the mapping is not the default.
func TestDevTokenUsesTheClaimMapping(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("AUTH_DEV_KEY", base64.StdEncoding.EncodeToString(devKey))
	t.Setenv("AUTH_TENANT_CLAIM", "extn.privopsTenant")
	t.Setenv("AUTH_ROLES_CLAIM", "privops_roles")
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runSubcommand(context.Background(), "token", []string{"--tenant", "acme", "--role", "privacy-viewer", "--sub", "alice"}, &out); err != nil {
		t.Fatal(err)
	}
	tok := string(bytes.TrimSpace(out.Bytes()))
	v, err := auth.NewHS256(devKey, cfg.AuthIssuer, cfg.AuthAudience, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.WithMapping(claimMapping(cfg)).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.TenantID != "acme" || got.Operator || !slices.Equal(got.Roles, []string{auth.RoleViewer}) {
		t.Errorf("claims = %+v, want tenant acme with privacy-viewer", got)
	}
}
