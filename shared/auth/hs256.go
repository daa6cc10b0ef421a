package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinHS256KeyLen is the shortest HS256 key accepted (RFC 7518 §3.2: a key of
// at least the hash size).
const MinHS256KeyLen = 32

// HS256 verifies tokens signed with a shared key: the standalone dev mode,
// where Mint issues the tokens.
type HS256 struct {
	key []byte
	checker
}

var _ Verifier = (*HS256)(nil)

// NewHS256 returns a verifier of HS256 tokens signed with key, issued by issuer
// and for audience (either "" to skip that check), judged at now (nil:
// time.Now). It fails if key is shorter than MinHS256KeyLen.
func NewHS256(key []byte, issuer, audience string, now func() time.Time) (*HS256, error) {
	if len(key) < MinHS256KeyLen {
		return nil, fmt.Errorf("new hs256 verifier: key has %d bytes, want at least %d", len(key), MinHS256KeyLen)
	}
	if now == nil {
		now = time.Now
	}
	return &HS256{key: append([]byte(nil), key...),
		checker: checker{algs: []string{jwt.SigningMethodHS256.Alg()}, issuer: issuer, audience: audience, now: now}}, nil
}

// WithMapping returns v reading the tenant and roles claims m names.
func (v *HS256) WithMapping(m Mapping) *HS256 {
	v.mapping = m
	return v
}

// Verify implements Verifier; see its error contract.
func (v *HS256) Verify(_ context.Context, token string) (Claims, error) {
	return v.parse(token, func(*jwt.Token) (any, error) { return v.key, nil })
}

// Mint issues an HS256 token for c (c.ExpiresAt is ignored) with the default
// claim names: see MintWith.
func Mint(key []byte, c Claims, issuer, audience string, now time.Time, ttl time.Duration) (string, error) {
	return MintWith(key, Mapping{}, c, issuer, audience, now, ttl)
}

// MintWith issues an HS256 token for c (c.ExpiresAt is ignored): sub, the
// tenant claim m names (absent on an operator token), the roles claim m names,
// iat and nbf at now, exp at now+ttl, and iss and aud when not empty; so an
// HS256 verifier with the same Mapping reads back c. For dev mode and tests;
// production tokens come from the identity provider. It fails if key is
// shorter than MinHS256KeyLen, ttl is not positive, c has no Subject, or c is
// neither a tenant token (TenantID set) nor an operator token (Operator set),
// or both.
func MintWith(key []byte, m Mapping, c Claims, issuer, audience string, now time.Time, ttl time.Duration) (string, error) {
	switch {
	case len(key) < MinHS256KeyLen:
		return "", fmt.Errorf("mint token: key has %d bytes, want at least %d", len(key), MinHS256KeyLen)
	case ttl <= 0:
		return "", fmt.Errorf("mint token: ttl %s is not positive", ttl)
	case c.Subject == "":
		return "", errors.New("mint token: subject is required")
	case c.Operator == (c.TenantID != ""):
		return "", errors.New("mint token: a token names a tenant or is an operator token, not both or neither")
	}
	rc := jwt.RegisteredClaims{
		Subject:   c.Subject,
		Issuer:    issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	if audience != "" {
		rc.Audience = jwt.ClaimStrings{audience}
	}
	b, err := json.Marshal(rc)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	claims := jwt.MapClaims{}
	if err := json.Unmarshal(b, &claims); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	if c.TenantID != "" {
		claims[m.tenantClaim()] = c.TenantID
	}
	if len(c.Roles) > 0 {
		claims[m.rolesClaim()] = c.Roles
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return s, nil
}
