package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/privops/privops/shared/privacy"
)

const (
	// MinRefetchInterval is the least time between two fetches of the key
	// set, so that tokens with made-up kids cannot flood the identity provider.
	MinRefetchInterval = time.Minute
	// MaxKeySetAge is how long a fetched key set is used before it is fetched
	// again, so that a key the provider withdrew stops being accepted.
	MaxKeySetAge = time.Hour
	// MinRSABits is the smallest RSA modulus accepted (NIST SP 800-57).
	MinRSABits = 2048

	maxJWKSBytes = 1 << 20
)

// JWKS verifies RS256 tokens against the keys an identity provider publishes
// as a JSON Web Key Set (RFC 7517). Keys are fetched on first use and cached;
// a token whose kid is not cached triggers a refetch, at most once per
// MinRefetchInterval; the set is refreshed after MaxKeySetAge (keeping the old
// one while the endpoint is down). Safe for concurrent use.
type JWKS struct {
	url    string
	client *http.Client
	checker

	fetchMu sync.Mutex // one fetch at a time

	mu        sync.Mutex // guards the fields below
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last fetch attempt
	lastErr   error     // of the last attempt
}

var _ Verifier = (*JWKS)(nil)

// NewJWKS returns a verifier of RS256 tokens signed by a key of the set at
// jwksURL, issued by issuer and for audience (either "" to skip that check),
// judged at now (nil: time.Now). client nil means an http.Client with a 10 s
// timeout. It does not fetch yet. It fails unless jwksURL is https (http only
// for a loopback host).
func NewJWKS(jwksURL, issuer, audience string, client *http.Client, now func() time.Time) (*JWKS, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("new jwks verifier: invalid url %q", jwksURL)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("new jwks verifier: url %q is not https", jwksURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	return &JWKS{url: jwksURL, client: client,
		checker: checker{alg: jwt.SigningMethodRS256.Alg(), issuer: issuer, audience: audience, now: now}}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithMapping returns v reading the tenant and roles claims m names.
func (v *JWKS) WithMapping(m Mapping) *JWKS {
	v.mapping = m
	return v
}

// Verify implements Verifier; see its error contract. The token must name its
// key in the kid header. When the key set cannot be fetched it returns an
// error wrapping a KindUnavailable CodeJWKSUnavailable *privacy.Error whose
// text also says why.
func (v *JWKS) Verify(ctx context.Context, token string) (Claims, error) {
	return v.parse(token, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodRSA); !ok {
			return nil, invalid("the token's algorithm or signature is not accepted")
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, invalid("the token names no signing key (kid)")
		}
		return v.key(ctx, kid)
	})
}

// key returns the public key kid, fetching the key set when kid is unknown or
// the set is older than MaxKeySetAge, at most once per MinRefetchInterval.
func (v *JWKS) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := v.cached(kid); ok {
		return k, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if k, ok := v.cached(kid); ok { // fetched while we waited
		return k, nil
	}
	now := v.now()
	v.mu.Lock()
	k, known := v.keys[kid] // known but stale
	limited := !v.triedAt.IsZero() && now.Sub(v.triedAt) < MinRefetchInterval
	lastErr := v.lastErr
	v.mu.Unlock()
	if !limited {
		keys, err := v.fetch(ctx)
		if err != nil && ctx.Err() != nil {
			// This caller gave up: not the endpoint's fault, so not recorded.
			if known {
				return k, nil
			}
			return nil, unavailable(err)
		}
		v.mu.Lock()
		v.triedAt, v.lastErr = now, err
		if err == nil {
			v.keys, v.fetchedAt = keys, now
		}
		v.mu.Unlock()
		lastErr = err
		if err == nil {
			k, known = keys[kid]
		}
	}
	switch {
	case known:
		return k, nil
	case lastErr != nil:
		return nil, unavailable(lastErr)
	}
	return nil, invalid("the token's signing key (kid) is unknown")
}

// unavailable returns a KindUnavailable CodeJWKSUnavailable error whose text
// ends with the cause (it names the URL, not the token).
func unavailable(cause error) error {
	return fmt.Errorf("%w (%v)", privacy.Errorf(privacy.KindUnavailable, CodeJWKSUnavailable,
		"the signing keys cannot be fetched; try again later"), cause)
}

// cached returns kid's key if the set is fresh.
func (v *JWKS) cached(kid string) (*rsa.PublicKey, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil || v.now().Sub(v.fetchedAt) >= MaxKeySetAge {
		return nil, false
	}
	k, ok := v.keys[kid]
	return k, ok
}

// jwk is the part of a JSON Web Key (RFC 7517, 7518 §6.3) that is used here.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// fetch GETs the key set and returns its usable RS256 signing keys by kid.
// Keys of another type, use or algorithm, without kid, or too weak are skipped.
func (v *JWKS) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks %s: status %d", v.url, resp.StatusCode)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("fetch jwks %s: decode: %w", v.url, err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		if pub, err := rsaKey(k.N, k.E); err == nil {
			keys[k.Kid] = pub
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("fetch jwks %s: no usable RS256 key", v.url)
	}
	return keys, nil
}

// rsaKey decodes the base64url modulus n and exponent e of an RSA JWK.
func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		return nil, fmt.Errorf("rsa key: modulus: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(e)
	if err != nil {
		return nil, fmt.Errorf("rsa key: exponent: %w", err)
	}
	mod := new(big.Int).SetBytes(nb)
	exp := new(big.Int).SetBytes(eb)
	if mod.BitLen() < MinRSABits {
		return nil, fmt.Errorf("rsa key: %d-bit modulus, want at least %d", mod.BitLen(), MinRSABits)
	}
	if !exp.IsInt64() || exp.Int64() < 3 || exp.Int64() > 1<<31-1 || exp.Bit(0) == 0 {
		return nil, fmt.Errorf("rsa key: bad exponent")
	}
	return &rsa.PublicKey{N: mod, E: int(exp.Int64())}, nil
}
