package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// rsaKeys are generated once: 2048-bit generation is slow under -race.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// jwksServer serves a JSON Web Key Set that tests can change, and counts GETs.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	keys   map[string]*rsa.PublicKey
	status int // 0: 200
}

func newJWKSServer(tb testing.TB, keys map[string]*rsa.PublicKey) *jwksServer {
	tb.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status != 0 {
			w.WriteHeader(s.status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jwkSet(s.keys)) //nolint:errcheck // test server
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys map[string]*rsa.PublicKey, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.status = keys, status
}

// jwkSet encodes keys as a JWK Set, with one key of another type to skip.
func jwkSet(keys map[string]*rsa.PublicKey) map[string]any {
	list := []map[string]string{{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "AA", "y": "AA"}}
	for kid, k := range keys {
		list = append(list, map[string]string{
			"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
		})
	}
	return map[string]any{"keys": list}
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// newTestJWKS returns a verifier of srv's keys with clock c.
func newTestJWKS(tb testing.TB, srv *jwksServer, c *clock) *JWKS {
	tb.Helper()
	v, err := NewJWKS(srv.URL+"/keys", testIssuer, testAudience, srv.Client(), c.Now)
	if err != nil {
		tb.Fatalf("NewJWKS: %v", err)
	}
	return v
}

// claimsAt are valid claims at t.
func claimsAt(t time.Time) jwt.MapClaims {
	c := baseClaims()
	c["iat"], c["nbf"], c["exp"] = t.Unix(), t.Unix(), t.Add(time.Hour).Unix()
	return c
}

func TestJWKSVerify(t *testing.T) {
	t.Parallel()
	keys := rsaKeys()
	pubDER, err := x509.MarshalPKIXPublicKey(&keys[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	srv := newJWKSServer(t, map[string]*rsa.PublicKey{"kid-1": &keys[0].PublicKey})

	tests := []struct {
		name     string
		token    string
		want     Claims
		wantCode string
	}{
		{
			name:  "valid",
			token: sign(t, jwt.SigningMethodRS256, keys[0], "kid-1", baseClaims()),
			want:  Claims{Subject: "admin-1", TenantID: "tenant-a", Roles: []string{RoleApprover}, ExpiresAt: fixedNow.Add(time.Hour)},
		},
		{
			name:     "signed by another key under a known kid",
			token:    sign(t, jwt.SigningMethodRS256, keys[1], "kid-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "alg confusion: HS256 keyed with the RSA public key",
			token:    sign(t, jwt.SigningMethodHS256, pubPEM, "kid-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "alg confusion: HS256 keyed with the DER public key",
			token:    sign(t, jwt.SigningMethodHS256, pubDER, "kid-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "alg none",
			token:    sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "kid-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "PS256 with the right key",
			token:    sign(t, jwt.SigningMethodPS256, keys[0], "kid-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "no kid",
			token:    sign(t, jwt.SigningMethodRS256, keys[0], "", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "unknown kid",
			token:    sign(t, jwt.SigningMethodRS256, keys[1], "kid-9", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "expired",
			token:    sign(t, jwt.SigningMethodRS256, keys[0], "kid-1", with(func(c jwt.MapClaims) { c["exp"] = fixedNow.Add(-2 * time.Minute).Unix() })),
			wantCode: CodeTokenExpired,
		},
		{
			name:     "not yet valid",
			token:    sign(t, jwt.SigningMethodRS256, keys[0], "kid-1", with(func(c jwt.MapClaims) { c["nbf"] = fixedNow.Add(2 * time.Minute).Unix() })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "wrong issuer",
			token:    sign(t, jwt.SigningMethodRS256, keys[0], "kid-1", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.net" })),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "wrong audience",
			token:    sign(t, jwt.SigningMethodRS256, keys[0], "kid-1", with(func(c jwt.MapClaims) { c["aud"] = "other-api" })),
			wantCode: CodeInvalidToken,
		},
		{
			name:  "no tenant claim is an operator token",
			token: sign(t, jwt.SigningMethodRS256, keys[0], "kid-1", with(func(c jwt.MapClaims) { delete(c, "tid") })),
			want:  Claims{Subject: "admin-1", Operator: true, Roles: []string{RoleApprover}, ExpiresAt: fixedNow.Add(time.Hour)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newTestJWKS(t, srv, &clock{now: fixedNow})
			got, err := v.Verify(context.Background(), tc.token)
			wantCode(t, err, privacy.KindUnauthorized, tc.wantCode, tc.token)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// step is one verification at a time offset, with the fetch count after it.
type step struct {
	name        string
	at          time.Duration // after fixedNow
	keys        map[string]*rsa.PublicKey
	status      int // served from this step on; nil keys and 0: unchanged
	signer      int // index in rsaKeys
	kid         string
	wantCode    string
	wantKind    privacy.Kind
	wantFetches int64
}

// runSteps runs steps in order against one verifier and one server.
func runSteps(t *testing.T, initial map[string]*rsa.PublicKey, steps []step) {
	t.Helper()
	srv := newJWKSServer(t, initial)
	c := &clock{now: fixedNow}
	v := newTestJWKS(t, srv, c)
	for _, s := range steps {
		if s.keys != nil || s.status != 0 {
			srv.set(s.keys, s.status)
		}
		at := fixedNow.Add(s.at)
		c.Set(at)
		token := sign(t, jwt.SigningMethodRS256, rsaKeys()[s.signer], s.kid, claimsAt(at))
		_, err := v.Verify(context.Background(), token)
		kind := s.wantKind
		if kind == 0 {
			kind = privacy.KindUnauthorized
		}
		if s.wantCode == "" && err != nil || s.wantCode != "" {
			t.Logf("%s: %v", s.name, err)
		}
		wantCode(t, err, kind, s.wantCode, token)
		if got := srv.fetches.Load(); got != s.wantFetches {
			t.Errorf("%s: %d fetches, want %d", s.name, got, s.wantFetches)
		}
	}
}

func TestJWKSKeyRotation(t *testing.T) {
	t.Parallel()
	keys := rsaKeys()
	k1, k2 := &keys[0].PublicKey, &keys[1].PublicKey
	runSteps(t, map[string]*rsa.PublicKey{"kid-1": k1}, []step{
		{name: "first use fetches", at: 0, signer: 0, kid: "kid-1", wantFetches: 1},
		{name: "known kid is cached", at: 30 * time.Second, signer: 0, kid: "kid-1", wantFetches: 1},
		{name: "new kid within a minute is not fetched", at: 40 * time.Second, keys: map[string]*rsa.PublicKey{"kid-1": k1, "kid-2": k2},
			signer: 1, kid: "kid-2", wantCode: CodeInvalidToken, wantFetches: 1},
		{name: "new kid after a minute is fetched", at: 61 * time.Second, signer: 1, kid: "kid-2", wantFetches: 2},
		{name: "old kid still cached", at: 62 * time.Second, signer: 0, kid: "kid-1", wantFetches: 2},
		{name: "made-up kid is refused without a fetch", at: 90 * time.Second, signer: 2, kid: "kid-x", wantCode: CodeInvalidToken, wantFetches: 2},
		{name: "made-up kid a minute later fetches once more", at: 122 * time.Second, signer: 2, kid: "kid-x", wantCode: CodeInvalidToken, wantFetches: 3},
		{name: "withdrawn key works until the set is an hour old", at: 50 * time.Minute, keys: map[string]*rsa.PublicKey{"kid-2": k2},
			signer: 0, kid: "kid-1", wantFetches: 3},
		{name: "withdrawn key is refused after the hourly refresh", at: 63 * time.Minute, signer: 0, kid: "kid-1", wantCode: CodeInvalidToken, wantFetches: 4},
		{name: "current key still valid", at: 64 * time.Minute, signer: 1, kid: "kid-2", wantFetches: 4},
	})
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	k1 := &rsaKeys()[0].PublicKey
	t.Run("endpoint down from the start", func(t *testing.T) {
		t.Parallel()
		runSteps(t, nil, []step{
			{name: "503", at: 0, status: http.StatusServiceUnavailable, signer: 0, kid: "kid-1",
				wantCode: CodeJWKSUnavailable, wantKind: privacy.KindUnavailable, wantFetches: 1},
			{name: "still failing, rate-limited", at: 30 * time.Second, signer: 0, kid: "kid-1",
				wantCode: CodeJWKSUnavailable, wantKind: privacy.KindUnavailable, wantFetches: 1},
			{name: "back after a minute", at: 61 * time.Second, keys: map[string]*rsa.PublicKey{"kid-1": k1}, signer: 0, kid: "kid-1", wantFetches: 2},
		})
	})
	t.Run("stale keys are kept while the endpoint is down", func(t *testing.T) {
		t.Parallel()
		runSteps(t, map[string]*rsa.PublicKey{"kid-1": k1}, []step{
			{name: "fetched", at: 0, signer: 0, kid: "kid-1", wantFetches: 1},
			{name: "down, stale set still used", at: 2 * time.Hour, status: http.StatusBadGateway, signer: 0, kid: "kid-1", wantFetches: 2},
			{name: "down, unknown kid", at: 2*time.Hour + 10*time.Second, signer: 1, kid: "kid-2",
				wantCode: CodeJWKSUnavailable, wantKind: privacy.KindUnavailable, wantFetches: 2},
		})
	})
	t.Run("endpoint unreachable", func(t *testing.T) {
		t.Parallel()
		srv := newJWKSServer(t, nil)
		srv.Close()
		v := newTestJWKS(t, srv, &clock{now: fixedNow})
		token := sign(t, jwt.SigningMethodRS256, rsaKeys()[0], "kid-1", baseClaims())
		_, err := v.Verify(context.Background(), token)
		t.Logf("error: %v", err)
		wantCode(t, err, privacy.KindUnavailable, CodeJWKSUnavailable, token)
	})
	t.Run("no usable key in the set", func(t *testing.T) {
		t.Parallel()
		weak, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		runSteps(t, map[string]*rsa.PublicKey{"kid-1": &weak.PublicKey}, []step{
			{name: "1024-bit key skipped", at: 0, signer: 0, kid: "kid-1",
				wantCode: CodeJWKSUnavailable, wantKind: privacy.KindUnavailable, wantFetches: 1},
		})
	})
}

func TestJWKSConcurrentUnknownKidFetchesOnce(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, map[string]*rsa.PublicKey{"kid-1": &rsaKeys()[0].PublicKey})
	v := newTestJWKS(t, srv, &clock{now: fixedNow})
	token := sign(t, jwt.SigningMethodRS256, rsaKeys()[1], "kid-unknown", baseClaims())
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), token)
			wantCode(t, err, privacy.KindUnauthorized, CodeInvalidToken, token)
		})
	}
	wg.Wait()
	if got := srv.fetches.Load(); got != 1 {
		t.Errorf("%d fetches, want 1", got)
	}
}

func TestNewJWKS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		wantErr bool
	}{
		{"https", "https://login.example.org/discovery/keys", false},
		{"http on loopback", "http://127.0.0.1:8080/keys", false},
		{"http on localhost", "http://localhost:8080/keys", false},
		{"http elsewhere", "http://login.example.org/keys", true},
		{"no host", "https:///keys", true},
		{"not a url", "::", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewJWKS(tc.url, "", "", nil, nil)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("NewJWKS error = %v, want error %t", err, tc.wantErr)
			}
		})
	}
}
