package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/privops/privops/shared/privacy"
)

// mappedClaims is a verified token's payload: the registered claims, and every
// claim by name, so that the Mapping can pick the tenant and roles claims.
type mappedClaims struct {
	jwt.RegisteredClaims
	all map[string]json.RawMessage
}

func (c *mappedClaims) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.all); err != nil {
		return err
	}
	// RFC 7519 §2: a NumericDate is a JSON number. The jwt library would
	// also read a string of digits, which no conforming issuer sends.
	for _, name := range []string{"exp", "nbf", "iat"} {
		if raw, ok := c.all[name]; ok && !isJSONNumber(raw) {
			return fmt.Errorf("claim %s is not a number", name)
		}
	}
	return json.Unmarshal(b, &c.RegisteredClaims)
}

// isJSONNumber reports whether raw is a JSON number literal.
func isJSONNumber(raw json.RawMessage) bool {
	var n json.Number
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') && json.Unmarshal(raw, &n) == nil
}

// text returns claim name as a string ("" if absent); ok is false when it is
// present but not a string.
func (c *mappedClaims) text(name string) (string, bool) {
	raw, present := c.all[name]
	if !present || string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// list returns claim name as a list of strings: a JSON array of strings, or one
// string of space-separated values (as OAuth's "scp"); ok is false for any
// other shape.
func (c *mappedClaims) list(name string) ([]string, bool) {
	raw, present := c.all[name]
	if !present || string(raw) == "null" {
		return nil, true
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err == nil {
		return l, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false
	}
	return strings.Fields(s), true
}

// checker holds what both verifiers check besides the signature.
type checker struct {
	algs     []string // the accepted "alg" values, of one family (HMAC, or public keys)
	issuer   string   // "": not checked
	audience string   // "": not checked
	mapping  Mapping
	now      func() time.Time
}

// parse verifies token with keyfunc and checks its claims. Errors are
// described in Verifier; an error of keyfunc is returned as it is.
func (c checker) parse(token string, keyfunc jwt.Keyfunc) (Claims, error) {
	if token == "" {
		return Claims{}, privacy.Errorf(privacy.KindUnauthorized, CodeMissingToken, "no access token")
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(c.algs),
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
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 §4.1.11: a recipient must refuse a token whose
			// critical header extensions it does not understand; this
			// package understands none.
			keyErr = invalid("the token has critical header extensions (crit), which are not supported")
			return nil, keyErr
		}
		k, err := keyfunc(t)
		keyErr = err
		return k, err
	}
	var tc mappedClaims
	if _, err := jwt.NewParser(opts...).ParseWithClaims(token, &tc, kf); err != nil {
		if keyErr != nil {
			return Claims{}, keyErr
		}
		return Claims{}, tokenError(err)
	}
	if tc.Subject == "" {
		return Claims{}, invalid("the token has no subject (sub)")
	}
	tenant, ok := tc.text(c.mapping.tenantClaim())
	if !ok {
		return Claims{}, invalid("the token's tenant claim is not a string")
	}
	roles, ok := tc.list(c.mapping.rolesClaim())
	if !ok {
		return Claims{}, invalid("the token's roles claim is not a list of strings")
	}
	out := Claims{Subject: tc.Subject, TenantID: tenant, Roles: roles, ExpiresAt: tc.ExpiresAt.UTC()}
	if tenant == "" || (c.mapping.OperatorTenant != "" && tenant == c.mapping.OperatorTenant) {
		out.TenantID, out.Operator = "", true
	}
	return out, nil
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
