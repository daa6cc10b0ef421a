package web

import (
	"context"
	"net/http"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/privacy"
)

// Verifier checks a bearer token (auth.Verifier).
type Verifier interface {
	Verify(ctx context.Context, token string) (auth.Claims, error)
}

// Authenticate verifies r's bearer token with v and returns its claims. When
// the token is missing or does not verify it answers 401 with a
// WWW-Authenticate challenge for realm (RFC 6750) and returns false; the
// caller then decides what the claims may reach.
func Authenticate(w http.ResponseWriter, r *http.Request, v Verifier, realm string) (auth.Claims, bool) {
	tok := Bearer(r)
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
		Problem(w, r, privacy.Errorf(privacy.KindUnauthorized, "missing-token", "a bearer token is required"))
		return auth.Claims{}, false
	}
	c, err := v.Verify(r.Context(), tok)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token"`)
		Problem(w, r, err)
		return auth.Claims{}, false
	}
	return c, true
}
