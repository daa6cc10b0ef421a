package auth

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/privops/privops/shared/privacy"
)

// tokenClaims is the JSON payload of a privops token.
type tokenClaims struct {
	jwt.RegisteredClaims
	TenantID string   `json:"tid,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

// checker holds what both verifiers check besides the signature.
type checker struct {
	alg      string // the only accepted "alg"
	issuer   string // "": not checked
	audience string // "": not checked
	now      func() time.Time
}

// parse verifies token with keyfunc and checks its claims. Errors are
// described in Verifier; an error of keyfunc is returned as it is.
func (c checker) parse(token string, keyfunc jwt.Keyfunc) (Claims, error) {
	if token == "" {
		return Claims{}, privacy.Errorf(privacy.KindUnauthorized, CodeMissingToken, "no access token")
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{c.alg}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(c.now),
		jwt.WithStrictDecoding(),
	}
	if c.issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.issuer))
	}
	if c.audience != "" {
		opts = append(opts, jwt.WithAudience(c.audience))
	}
	var keyErr error // keyfunc's own error, passed on unwrapped
	kf := func(t *jwt.Token) (any, error) {
		k, err := keyfunc(t)
		keyErr = err
		return k, err
	}
	var tc tokenClaims
	if _, err := jwt.NewParser(opts...).ParseWithClaims(token, &tc, kf); err != nil {
		if keyErr != nil {
			return Claims{}, keyErr
		}
		return Claims{}, tokenError(err)
	}
	if tc.Subject == "" {
		return Claims{}, invalid("the token has no subject (sub)")
	}
	if tc.TenantID == "" {
		return Claims{}, invalid("the token has no tenant (tid)")
	}
	return Claims{Subject: tc.Subject, TenantID: tc.TenantID, Roles: tc.Roles, ExpiresAt: tc.ExpiresAt.UTC()}, nil
}

// tokenError maps a jwt parse error to a *privacy.Error whose message says
// which check failed; the token itself is never repeated.
func tokenError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return privacy.Errorf(privacy.KindUnauthorized, CodeTokenExpired, "the token has expired")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("the token is malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("the token's algorithm or signature is not accepted")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid("the token is not valid yet")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid("the token has the wrong issuer")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalid("the token has the wrong audience")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid("the token lacks a required claim (exp; iss and aud when configured)")
	}
	return invalid("the token is not valid")
}

// invalid returns an Unauthorized CodeInvalidToken error with msg.
func invalid(msg string) *privacy.Error {
	return privacy.Errorf(privacy.KindUnauthorized, CodeInvalidToken, "%s", msg)
}
