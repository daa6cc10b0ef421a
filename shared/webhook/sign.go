package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// SignatureHeader carries the signature of a call or a callback:
//
//	Privops-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>[,v1=...]
//	Privops-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256(direction key, t + "." + body)>[,v2=...]
//
// One entry per active secret, as Stripe does, so a service rolling its key
// accepts the call whichever key it holds. v1 signs with the secret itself in
// both directions (signing version 1, legacy); v2 signs with a key derived
// from the secret per direction (see keys.go). Other entries are ignored.
const SignatureHeader = "Privops-Signature"

// DefaultWindow is the replay window Verify uses when given none: a signature
// whose timestamp is further than this from now, either way, is refused.
const DefaultWindow = 5 * time.Minute

// MinSecretBytes is the shortest signing secret Secrets accepts: RFC 2104 §3
// discourages HMAC keys shorter than the hash output (32 bytes for SHA-256).
const MinSecretBytes = 32

// maxHeaderLen bounds the signature header Verify parses (about 100 v1 entries).
const maxHeaderLen = 8 << 10

// Signature errors. Each is a *privacy.Error of kind KindUnauthorized whose code
// an HTTP edge can answer as a problem; Verify returns them unwrapped, so both
// errors.Is and privacy.AsError work.
var (
	ErrMissingSignature   = privacy.Errorf(privacy.KindUnauthorized, "missing-signature", "the %s header is missing", SignatureHeader)
	ErrMalformedSignature = privacy.Errorf(privacy.KindUnauthorized, "malformed-signature", "the %s header is not t=<unix seconds>,v1=<hex>", SignatureHeader)
	ErrStaleSignature     = privacy.Errorf(privacy.KindUnauthorized, "stale-signature", "the signature timestamp is outside the replay window")
	ErrBadSignature       = privacy.Errorf(privacy.KindUnauthorized, "bad-signature", "the signature matches no active secret")
)

// Sign returns a SignatureHeader value for body at time now: the timestamp and
// one v1 entry per secret, in the order given. Empty secrets are skipped.
func Sign(now time.Time, body []byte, secrets ...[]byte) string {
	t := strconv.FormatInt(now.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + t)
	for _, mac := range newMACs(t, secrets) {
		mac.Write(body)
		b.WriteString(",v1=" + hex.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}

// Verify checks header, a SignatureHeader value, against body: its timestamp
// must lie within window of now (DefaultWindow when window <= 0) and one of its
// v1 entries must be the HMAC of one of the secrets (compared in constant time;
// empty secrets never match). It returns nil or one of ErrMissingSignature,
// ErrMalformedSignature, ErrStaleSignature and ErrBadSignature.
func Verify(header string, body []byte, now time.Time, window time.Duration, secrets ...[]byte) error {
	_, err := VerifyStream(header, bytes.NewReader(body), io.Discard, now, window, secrets...)
	return err
}

// VerifyStream is Verify for a body too large to hold in memory, such as an
// export callback: it checks the header's form and timestamp first (reading
// nothing if they fail), then copies body to dst while computing the HMACs, and
// compares them at the end. It returns the number of bytes copied.
//
// The body is only trustworthy once VerifyStream returns nil, so dst must be a
// staging place (a temporary blob) that the caller promotes on success and
// deletes otherwise. A read or write error is returned wrapped, not as a
// signature error; the caller bounds the body (http.MaxBytesReader).
func VerifyStream(header string, body io.Reader, dst io.Writer, now time.Time, window time.Duration, secrets ...[]byte) (int64, error) {
	return verifyStream(header, "", body, dst, now, window, secrets)
}

// verifyStream is VerifyStream over the signed text t + "." + bound + body:
// bound ties a signature to what it is for (an export part names its task and
// number), and is empty for calls and callbacks.
func verifyStream(header, bound string, body io.Reader, dst io.Writer, now time.Time, window time.Duration, secrets [][]byte) (int64, error) {
	keys := make([]Key, 0, len(secrets))
	for _, s := range secrets {
		keys = append(keys, Key{Scheme: SchemeV1, Secret: s})
	}
	return verifyKeys(header, bound, body, dst, now, window, keys)
}

// verifyKeys is verifyStream with keys of either scheme: an entry of the
// header matches only a key of its own scheme.
func verifyKeys(header, bound string, body io.Reader, dst io.Writer, now time.Time, window time.Duration, keys []Key) (int64, error) {
	t, sigs, err := parseSignature(header)
	if err != nil {
		return 0, err
	}
	if window <= 0 {
		window = DefaultWindow
	}
	ts, _ := strconv.ParseInt(t, 10, 64) // parseSignature checked the digits
	if age := now.Sub(time.Unix(ts, 0)); age > window || age < -window {
		return 0, ErrStaleSignature
	}
	type keyed struct {
		scheme string
		mac    hash.Hash
	}
	var macs []keyed
	ws := []io.Writer{dst}
	for _, k := range keys {
		if len(k.Secret) == 0 {
			continue
		}
		m := hmac.New(sha256.New, k.Secret)
		m.Write([]byte(t + "." + bound))
		macs = append(macs, keyed{k.Scheme, m})
		ws = append(ws, m)
	}
	n, err := io.Copy(io.MultiWriter(ws...), body)
	if err != nil {
		return n, fmt.Errorf("verify signature: copy body: %w", err)
	}
	match := false
	for _, m := range macs {
		want := m.mac.Sum(nil)
		for _, sig := range sigs {
			// No early exit: every comparison takes the same time.
			match = (sig.scheme == m.scheme && hmac.Equal(want, sig.mac)) || match
		}
	}
	if !match {
		return n, ErrBadSignature
	}
	return n, nil
}

// newMACs returns one HMAC-SHA256 per non-empty secret, each already fed the
// signed prefix t + ".".
func newMACs(t string, secrets [][]byte) []hash.Hash {
	macs := make([]hash.Hash, 0, len(secrets))
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(sha256.New, s)
		m.Write([]byte(t + "."))
		macs = append(macs, m)
	}
	return macs
}

// signature is one vN entry of a header.
type signature struct {
	scheme string
	mac    []byte
}

// parseSignature splits a header into its timestamp (exactly one t of 1 to 19
// decimal digits, kept as sent because it is part of the signed text) and its
// v1 and v2 signatures (at least one, each 64 hex digits). Unknown keys are
// ignored.
func parseSignature(header string) (string, []signature, error) {
	if header == "" {
		return "", nil, ErrMissingSignature
	}
	if len(header) > maxHeaderLen {
		return "", nil, ErrMalformedSignature
	}
	var t string
	var sigs []signature
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", nil, ErrMalformedSignature
		}
		switch k {
		case "t":
			if t != "" || !digits(v) {
				return "", nil, ErrMalformedSignature
			}
			t = v
		case SchemeV1, SchemeV2:
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return "", nil, ErrMalformedSignature
			}
			sigs = append(sigs, signature{k, sig})
		}
	}
	if t == "" || len(sigs) == 0 {
		return "", nil, ErrMalformedSignature
	}
	return t, sigs, nil
}

// digits reports whether s is 1 to 19 ASCII digits (fits an int64).
func digits(s string) bool {
	if len(s) == 0 || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Secrets returns the decoded signing secrets of a webhook service, newest
// first: privops signs every call with all of them and accepts a callback signed
// with any. It fails if the service has none, or if one is not standard base64
// or shorter than MinSecretBytes; errors name the secret's id, never its value.
func Secrets(svc *privacy.Service) ([][]byte, error) {
	if svc == nil || len(svc.Secrets) == 0 {
		return nil, fmt.Errorf("service has no signing secret")
	}
	sorted := slices.Clone(svc.Secrets)
	slices.SortStableFunc(sorted, func(a, b privacy.ServiceSecret) int { return b.CreatedAt.Compare(a.CreatedAt) })
	out := make([][]byte, 0, len(sorted))
	for _, s := range sorted {
		v, err := base64.StdEncoding.DecodeString(s.Value)
		if err != nil {
			return nil, fmt.Errorf("signing secret %q is not standard base64", s.ID)
		}
		if len(v) < MinSecretBytes {
			return nil, fmt.Errorf("signing secret %q is shorter than %d bytes", s.ID, MinSecretBytes)
		}
		out = append(out, v)
	}
	return out, nil
}
