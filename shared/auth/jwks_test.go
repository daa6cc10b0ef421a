package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
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

// ecKeys are two P-256 keys and one P-384 key.
var ecKeys = sync.OnceValue(func() []*ecdsa.PrivateKey {
	var keys []*ecdsa.PrivateKey
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P256(), elliptic.P384()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		keys = append(keys, k)
	}
	return keys
})

// jwksServer serves a JSON Web Key Set that tests can change, and counts GETs.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	keys   map[string]crypto.PublicKey
	status int // 0: 200
}

func newJWKSServer(tb testing.TB, keys map[string]crypto.PublicKey) *jwksServer {
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
		json.NewEncoder(w).Encode(jwkSet(tb, s.keys)) //nolint:errcheck // test server
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys map[string]crypto.PublicKey, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.status = keys, status
}

// b64 is base64url without padding, as JWKs encode numbers and octets.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkSet encodes keys as a JWK Set (RSA as Entra ID publishes them, with use
// and no alg; EC with use and alg), plus keys the verifier must skip: an RSA
// encryption key, a symmetric key (whose bytes are hsKey) and a P-384 key.
func jwkSet(tb testing.TB, keys map[string]crypto.PublicKey) map[string]any {
	tb.Helper()
	enc := &rsaKeys()[2].PublicKey
	list := []map[string]string{
		{"kty": "RSA", "kid": "enc-1", "use": "enc", "n": b64(enc.N.Bytes()), "e": b64(big.NewInt(int64(enc.E)).Bytes())},
		{"kty": "oct", "kid": "oct-1", "k": b64(hsKey)},
	}
	p384, err := ecKeys()[2].PublicKey.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	list = append(list, map[string]string{"kty": "EC", "kid": "ec-384", "use": "sig", "crv": "P-384", "x": b64(p384[1:49]), "y": b64(p384[49:])})
	for kid, k := range keys {
		switch k := k.(type) {
		case *rsa.PublicKey:
			list = append(list, map[string]string{"kty": "RSA", "kid": kid, "use": "sig",
				"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
		case *ecdsa.PublicKey:
			point, err := k.Bytes()
			if err != nil {
				tb.Fatal(err)
			}
			list = append(list, map[string]string{"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256",
				"crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:])})
		default:
			tb.Fatalf("jwkSet: key %s is a %T", kid, k)
		}
	}
	return map[string]any{"keys": list}
}

// timing is a JWKS verifier's refresh policy, shortened for a test.
type timing struct{ minRefetch, maxAge time.Duration }

// newTestJWKS returns a verifier of srv's keys judging tokens at now, with
// the production policy unless tm is given; it is closed when the test ends.
func newTestJWKS(tb testing.TB, srv *jwksServer, now func() time.Time, tm ...timing) *JWKS {
	tb.Helper()
	v, err := NewJWKS(srv.URL+"/keys", testIssuer, testAudience, srv.Client(), now)
	if err != nil {
		tb.Fatalf("NewJWKS: %v", err)
	}
	if len(tm) > 0 {
		// A token with an unknown kid waits this long at most for the next
		// fetch the rate limit allows; shorter than any interval below.
		v.minRefetch, v.maxAge, v.waitMax = tm[0].minRefetch, tm[0].maxAge, 300*time.Millisecond
	}
	tb.Cleanup(v.Close)
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
	keys, ec := rsaKeys(), ecKeys()
	pubDER, err := x509.MarshalPKIXPublicKey(&keys[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	srv := newJWKSServer(t, map[string]crypto.PublicKey{"kid-1": &keys[0].PublicKey, "ec-1": &ec[0].PublicKey})
	valid := Claims{Subject: "admin-1", TenantID: "tenant-a", Roles: []string{RoleApprover}, ExpiresAt: fixedNow.Add(time.Hour)}

	tests := []struct {
		name     string
		token    string
		want     Claims
		wantCode string
	}{
		{
			name:  "valid RS256",
			token: sign(t, jwt.SigningMethodRS256, keys[0], "kid-1", baseClaims()),
			want:  valid,
		},
		{
			name:  "valid ES256",
			token: sign(t, jwt.SigningMethodES256, ec[0], "ec-1", baseClaims()),
			want:  valid,
		},
		{
			name:     "signed by another key under a known kid",
			token:    sign(t, jwt.SigningMethodRS256, keys[1], "kid-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "ES256 signed by another P-256 key under a known kid",
			token:    sign(t, jwt.SigningMethodES256, ec[1], "ec-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "ES256 under an RSA key's kid",
			token:    sign(t, jwt.SigningMethodES256, ec[0], "kid-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "RS256 under an EC key's kid",
			token:    sign(t, jwt.SigningMethodRS256, keys[0], "ec-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "ES384 with a P-384 key the set publishes",
			token:    sign(t, jwt.SigningMethodES384, ec[2], "ec-384", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "RS256 with the set's encryption key",
			token:    sign(t, jwt.SigningMethodRS256, keys[2], "enc-1", baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "HS256 with the set's symmetric key",
			token:    sign(t, jwt.SigningMethodHS256, hsKey, "oct-1", baseClaims()),
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
			name:     "crit header",
			token:    signWithHeader(t, jwt.SigningMethodRS256, keys[0], map[string]any{"kid": "kid-1", "crit": []string{"b64"}, "b64": false}, baseClaims()),
			wantCode: CodeInvalidToken,
		},
		{
			name:     "exp a string",
			token:    sign(t, jwt.SigningMethodRS256, keys[0], "kid-1", with(func(c jwt.MapClaims) { c["exp"] = "1896000000" })),
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
	// One verifier for all cases, as in production; the production policy
	// (one fetch a minute at most) keeps the unknown kids from refetching.
	v := newTestJWKS(t, srv, func() time.Time { return fixedNow })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(context.Background(), tc.token)
			wantCode(t, err, privacy.KindUnauthorized, tc.wantCode, tc.token)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
	t.Cleanup(func() {
		if got := srv.fetches.Load(); got != 1 {
			t.Errorf("%d fetches for %d tokens, want 1", got, len(tests))
		}
	})
}

// step is one verification, after a pause, with the fetch count after it.
type step struct {
	name        string
	pause       time.Duration               // before the step
	until       int64                       // then wait until this many fetches happened (a background refresh)
	keys        map[string]crypto.PublicKey // served from this step on; nil keys and 0 status: unchanged
	status      int
	signer      int // index in rsaKeys
	kid         string
	wantCode    string
	wantKind    privacy.Kind
	wantFetches int64
}

// runSteps runs steps in order against one verifier with policy tm and one
// server. The refresh policy runs on the real clock, so the steps pause.
func runSteps(t *testing.T, initial map[string]crypto.PublicKey, tm timing, steps []step) {
	t.Helper()
	srv := newJWKSServer(t, initial)
	v := newTestJWKS(t, srv, time.Now, tm)
	for _, s := range steps {
		if s.keys != nil || s.status != 0 {
			srv.set(s.keys, s.status)
		}
		time.Sleep(s.pause)
		// The server counts a fetch when it starts; the verifier, when it
		// has applied (or refused) the answer.
		for deadline := time.Now().Add(10 * time.Second); v.finished.Load() < s.until; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d fetches finished after 10s, want %d (the background refresh)", s.name, v.finished.Load(), s.until)
			}
		}
		token := sign(t, jwt.SigningMethodRS256, rsaKeys()[s.signer], s.kid, claimsAt(time.Now()))
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
	t.Run("unknown kid refetches at most once per interval", func(t *testing.T) {
		t.Parallel()
		runSteps(t, map[string]crypto.PublicKey{"kid-1": k1}, timing{minRefetch: 2 * time.Second, maxAge: time.Hour}, []step{
			{name: "first use fetches", signer: 0, kid: "kid-1", wantFetches: 1},
			{name: "known kid is cached", signer: 0, kid: "kid-1", wantFetches: 1},
			{name: "new kid within the interval is not fetched", keys: map[string]crypto.PublicKey{"kid-1": k1, "kid-2": k2},
				signer: 1, kid: "kid-2", wantCode: CodeInvalidToken, wantFetches: 1},
			{name: "new kid after the interval is fetched", pause: 2100 * time.Millisecond, signer: 1, kid: "kid-2", wantFetches: 2},
			{name: "old kid still cached", signer: 0, kid: "kid-1", wantFetches: 2},
			{name: "made-up kid is refused without a fetch", signer: 2, kid: "kid-x", wantCode: CodeInvalidToken, wantFetches: 2},
			{name: "made-up kid an interval later fetches once more", pause: 2100 * time.Millisecond, signer: 2, kid: "kid-x",
				wantCode: CodeInvalidToken, wantFetches: 3},
		})
	})
	t.Run("a withdrawn key is refused after the periodic refresh", func(t *testing.T) {
		t.Parallel()
		runSteps(t, map[string]crypto.PublicKey{"kid-1": k1}, timing{minRefetch: time.Hour, maxAge: 1500 * time.Millisecond}, []step{
			{name: "first use fetches", signer: 0, kid: "kid-1", wantFetches: 1},
			{name: "withdrawn key works until the refresh", keys: map[string]crypto.PublicKey{"kid-2": k2}, signer: 0, kid: "kid-1", wantFetches: 1},
			{name: "withdrawn key is refused after the refresh", until: 2, signer: 0, kid: "kid-1", wantCode: CodeInvalidToken, wantFetches: 2},
			{name: "the new key is valid", signer: 1, kid: "kid-2", wantFetches: 2},
		})
	})
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	k1 := &rsaKeys()[0].PublicKey
	t.Run("endpoint down from the start", func(t *testing.T) {
		t.Parallel()
		runSteps(t, nil, timing{minRefetch: 2 * time.Second, maxAge: time.Hour}, []step{
			{name: "503", status: http.StatusServiceUnavailable, signer: 0, kid: "kid-1",
				wantCode: CodeJWKSUnavailable, wantKind: privacy.KindUnavailable, wantFetches: 1},
			{name: "still failing, rate-limited", signer: 0, kid: "kid-1",
				wantCode: CodeJWKSUnavailable, wantKind: privacy.KindUnavailable, wantFetches: 1},
			{name: "back after the interval", pause: 2100 * time.Millisecond, keys: map[string]crypto.PublicKey{"kid-1": k1},
				signer: 0, kid: "kid-1", wantFetches: 2},
		})
	})
	t.Run("stale keys are kept while the endpoint is down", func(t *testing.T) {
		t.Parallel()
		runSteps(t, map[string]crypto.PublicKey{"kid-1": k1}, timing{minRefetch: time.Hour, maxAge: 500 * time.Millisecond}, []step{
			{name: "fetched", signer: 0, kid: "kid-1", wantFetches: 1},
			{name: "down, stale set still used", status: http.StatusBadGateway, until: 2, signer: 0, kid: "kid-1", wantFetches: 2},
			{name: "down, unknown kid", signer: 1, kid: "kid-2",
				wantCode: CodeJWKSUnavailable, wantKind: privacy.KindUnavailable, wantFetches: 2},
		})
	})
	t.Run("endpoint unreachable", func(t *testing.T) {
		t.Parallel()
		srv := newJWKSServer(t, nil)
		srv.Close()
		v := newTestJWKS(t, srv, func() time.Time { return fixedNow })
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
		runSteps(t, map[string]crypto.PublicKey{"kid-1": &weak.PublicKey}, timing{minRefetch: time.Hour, maxAge: time.Hour}, []step{
			{name: "1024-bit key skipped", signer: 0, kid: "kid-1",
				wantCode: CodeJWKSUnavailable, wantKind: privacy.KindUnavailable, wantFetches: 1},
		})
	})
	t.Run("a key set larger than 1 MiB", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"keys":[],"padding":"` + strings.Repeat("x", maxJWKSBytes) + `"}`))
		}))
		t.Cleanup(srv.Close)
		v, err := NewJWKS(srv.URL, testIssuer, testAudience, srv.Client(), func() time.Time { return fixedNow })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		token := sign(t, jwt.SigningMethodRS256, rsaKeys()[0], "kid-1", baseClaims())
		_, err = v.Verify(context.Background(), token)
		t.Logf("error: %v", err)
		wantCode(t, err, privacy.KindUnavailable, CodeJWKSUnavailable, token)
	})
}

func TestJWKSConcurrentUnknownKidFetchesOnce(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, map[string]crypto.PublicKey{"kid-1": &rsaKeys()[0].PublicKey})
	v := newTestJWKS(t, srv, func() time.Time { return fixedNow })
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
			v, err := NewJWKS(tc.url, "", "", nil, nil)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("NewJWKS error = %v, want error %t", err, tc.wantErr)
			}
			if v != nil {
				v.Close()
			}
		})
	}
}
