package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/privops/privops/shared/privacy"
)

const (
	// MinRefetchInterval is the least time between two fetches of the key
	// set for a token whose kid is not cached, so that tokens with made-up
	// kids cannot flood the identity provider.
	MinRefetchInterval = time.Minute
	// MaxKeySetAge is how often the key set is fetched again in the
	// background, so that a key the provider withdrew stops being accepted
	// (the last set is kept while the endpoint is down).
	MaxKeySetAge = time.Hour
	// MinRSABits is the smallest RSA modulus accepted (NIST SP 800-57).
	MinRSABits = 2048

	// fetchTimeout bounds one fetch of the key set, and how long a token with
	// an unknown kid may wait for the next fetch the rate limit allows.
	fetchTimeout = 10 * time.Second
	maxJWKSBytes = 1 << 20
)

// jwksAlgs are the algorithms a JWKS verifier accepts: RSA (Microsoft Entra
// ID signs with RS256) and ECDSA P-256. Never HS* (a public key used as an
// HMAC secret) nor "none".
var jwksAlgs = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}

// JWKS verifies RS256 and ES256 tokens against the keys an identity provider
// publishes as a JSON Web Key Set (RFC 7517). The key set is fetched, parsed
// and cached by github.com/MicahParks/jwkset (through keyfunc, built for the
// golang-jwt library this package uses): fetched on first use, again every
// MaxKeySetAge in the background (keeping the last set while the endpoint is
// down), and again when a token names a kid the set lacks, at most once per
// MinRefetchInterval. Call Close to stop the background refresh. Safe for
// concurrent use.
type JWKS struct {
	url    string
	client *http.Client
	checker

	// The policy; the constants above, which tests shorten.
	minRefetch, maxAge, waitMax time.Duration

	ctx    context.Context // ends the background refresh
	cancel context.CancelFunc

	initMu sync.Mutex
	kf     keyfunc.Keyfunc // nil until the first Verify
	set    jwkset.Storage  // the keys as last fetched, read without a fetch

	mu      sync.Mutex
	lastErr error // of the last fetch; nil after one that succeeded

	finished atomic.Int64 // fetches that ended, applied or failed (tests wait on it)
}

var _ Verifier = (*JWKS)(nil)

// NewJWKS returns a verifier of RS256 and ES256 tokens signed by a key of the
// set at jwksURL, issued by issuer and for audience (either "" to skip that
// check), judged at now (nil: time.Now). client nil means an http.Client with
// a 10 s timeout. It does not fetch yet. It fails unless jwksURL is https
// (http only for a loopback host).
func NewJWKS(jwksURL, issuer, audience string, client *http.Client, now func() time.Time) (*JWKS, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("new jwks verifier: invalid url %q", jwksURL)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("new jwks verifier: url %q is not https", jwksURL)
	}
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	// A bounded body: the library decodes whatever the endpoint sends.
	limited := *client
	limited.Transport = limitBody{next: client.Transport, max: maxJWKSBytes}
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &JWKS{url: jwksURL, client: &limited,
		checker:    checker{algs: jwksAlgs, issuer: issuer, audience: audience, now: now},
		minRefetch: MinRefetchInterval, maxAge: MaxKeySetAge, waitMax: fetchTimeout,
		ctx: ctx, cancel: cancel}, nil
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

// Close stops the background refresh. Verify keeps working on the keys
// fetched so far (and fetches on an unknown kid).
func (v *JWKS) Close() { v.cancel() }

// Verify implements Verifier; see its error contract. The token must name its
// key in the kid header. When the key set cannot be fetched it returns an
// error wrapping a KindUnavailable CodeJWKSUnavailable *privacy.Error whose
// text also says why.
func (v *JWKS) Verify(ctx context.Context, token string) (Claims, error) {
	if token == "" {
		return v.parse(token, nil)
	}
	kf, err := v.keyfunc()
	if err != nil {
		return Claims{}, unavailable(err)
	}
	lookup := kf.KeyfuncCtx(ctx)
	return v.parse(token, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, invalid("the token names no signing key (kid)")
		}
		key, err := lookup(t)
		if err != nil {
			if _, cached := v.set.KeyRead(ctx, kid); cached == nil {
				// In the set, but its alg is not the token's.
				return nil, invalid("the token's algorithm or signature is not accepted")
			}
			if last := v.fetchErr(); last != nil {
				return nil, unavailable(last)
			}
			return nil, invalid("the token's signing key (kid) is unknown")
		}
		if !fits(t.Method.Alg(), key) {
			return nil, invalid("the token's algorithm or signature is not accepted")
		}
		return key, nil
	})
}

// keyfunc returns the key lookup, building it on first use: the first fetch
// happens here, bounded by fetchTimeout; its failure is recorded, not
// returned (the next unknown kid fetches again).
func (v *JWKS) keyfunc() (keyfunc.Keyfunc, error) {
	v.initMu.Lock()
	defer v.initMu.Unlock()
	if v.kf != nil {
		return v.kf, nil
	}
	v.set = usable{Storage: jwkset.NewMemoryStorage(), fetched: v.fetched}
	remote, err := jwkset.NewStorageFromHTTP(v.url, jwkset.HTTPClientStorageOptions{
		Client:                    v.client,
		Ctx:                       v.ctx,
		HTTPTimeout:               fetchTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       v.fetchFailed,
		RefreshInterval:           v.maxAge,
		Storage:                   v.set,
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", v.url, err)
	}
	// The first fetch just happened: the next one for an unknown kid waits
	// out the interval.
	limiter := rate.NewLimiter(rate.Every(v.minRefetch), 1)
	limiter.Allow()
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{v.url: remote},
		RateLimitWaitMax:  v.waitMax,
		RefreshUnknownKID: limiter,
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", v.url, err)
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: v.ctx, Storage: client})
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", v.url, err)
	}
	v.kf = kf
	return kf, nil
}

// fetched records a successful fetch; fetchFailed a failed one, unless the
// caller who waited for it gave up or Close ended it (not the endpoint's
// fault). The library cancels its own context before it reports, so the
// error, not the context, tells.
func (v *JWKS) fetched() {
	v.setFetchErr(nil)
	v.finished.Add(1)
}

func (v *JWKS) fetchFailed(_ context.Context, err error) {
	defer v.finished.Add(1)
	if errors.Is(err, context.Canceled) {
		return
	}
	v.setFetchErr(fmt.Errorf("fetch jwks %s: %w", v.url, err))
}

func (v *JWKS) setFetchErr(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastErr = err
}

func (v *JWKS) fetchErr() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastErr
}

// unavailable returns a KindUnavailable CodeJWKSUnavailable error whose text
// ends with the cause (it names the URL, not the token).
func unavailable(cause error) error {
	return fmt.Errorf("%w (%v)", privacy.Errorf(privacy.KindUnavailable, CodeJWKSUnavailable,
		"the signing keys cannot be fetched; try again later"), cause)
}

// fits reports whether key may verify a token signed with alg: an RSA key of
// at least MinRSABits for RS256, a P-256 key for ES256.
func fits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == jwt.SigningMethodRS256.Alg() && k.N.BitLen() >= MinRSABits
	case *ecdsa.PublicKey:
		return alg == jwt.SigningMethodES256.Alg() && k.Curve == elliptic.P256()
	}
	return false
}

// usable is the store a fetched key set is written to: it keeps the keys that
// can sign a token this verifier accepts (RSA of at least MinRSABits, EC
// P-256; for signing, of a fitting alg) and drops the rest (encryption keys,
// symmetric "oct" keys, other curves, weak keys). A set without one usable key
// is refused, so the last good set stays in use and the failure is recorded.
type usable struct {
	jwkset.Storage
	fetched func()
}

func (u usable) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	keep := make([]jwkset.JWK, 0, len(given))
	for _, k := range given {
		m := k.Marshal()
		if m.KID == "" || (m.USE != "" && m.USE != jwkset.UseSig) {
			continue
		}
		switch key := k.Key().(type) {
		case *rsa.PublicKey:
			if (m.ALG == "" || m.ALG == jwkset.AlgRS256) && fits(jwkset.AlgRS256.String(), key) {
				keep = append(keep, k)
			}
		case *ecdsa.PublicKey:
			if (m.ALG == "" || m.ALG == jwkset.AlgES256) && fits(jwkset.AlgES256.String(), key) {
				keep = append(keep, k)
			}
		}
	}
	if len(keep) == 0 {
		return errors.New("no usable RS256 or ES256 signing key")
	}
	if err := u.Storage.KeyReplaceAll(ctx, keep); err != nil {
		return err
	}
	u.fetched()
	return nil
}

// limitBody is a RoundTripper that cuts response bodies at max bytes: a key
// set larger than that fails to decode.
type limitBody struct {
	next http.RoundTripper
	max  int64
}

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	next := l.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, l.max), resp.Body}
	return resp, nil
}
