package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

type verifierFunc func(context.Context, string) (auth.Claims, error)

func (f verifierFunc) Verify(ctx context.Context, tok string) (auth.Claims, error) {
	return f(ctx, tok)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	v := verifierFunc(func(_ context.Context, tok string) (auth.Claims, error) {
		if tok != "good" {
			return auth.Claims{}, privacy.Errorf(privacy.KindUnauthorized, auth.CodeInvalidToken, "the token is not valid")
		}
		return auth.Claims{Subject: "alice", TenantID: "acme"}, nil
	})
	tests := []struct {
		name       string
		header     string
		wantOK     bool
		wantStatus int
		wantChall  string
	}{
		{"no header", "", false, 401, `Bearer realm="r"`},
		{"another scheme", "Basic Zm9v", false, 401, `Bearer realm="r"`},
		{"a token that does not verify", "Bearer bad", false, 401, `Bearer realm="r", error="invalid_token"`},
		{"a good token", "Bearer good", true, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			c, ok := web.Authenticate(w, r, v, "r")
			got := []any{ok, w.Code, w.Header().Get("WWW-Authenticate")}
			if diff := cmp.Diff([]any{tc.wantOK, tc.wantStatus, tc.wantChall}, got); diff != "" {
				t.Errorf("ok, status, challenge (-want +got):\n%s", diff)
			}
			if ok && c.Subject != "alice" {
				t.Errorf("claims = %+v", c)
			}
			if !ok && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q, want problem+json", w.Header().Get("Content-Type"))
			}
		})
	}
}
