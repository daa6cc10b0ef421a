package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Signing versions of a webhook service (privacy.Service.SigningVersion).
//
// Version 1 (legacy; a stored service without a version is on it) signs calls
// and verifies callbacks with the service's secret itself, in the same
// format: a call privops signed is, byte for byte, a validly signed callback
// body, and the other way round. Version 2 (every new service) derives one
// key per direction from the same secret,
//
//	call key     = HMAC-SHA256(secret, "privops-webhook/call")
//	callback key = HMAC-SHA256(secret, "privops-webhook/callback")
//
// and marks its entries v2, so neither direction's signature verifies in the
// other. A version 1 service already has its callbacks accepted in either
// form, so it migrates by (1) signing callbacks v2, (2) accepting v2 calls,
// then (3) being set to signingVersion 2, after which v1 is refused both ways.
const (
	SigningLegacy    = 1
	SigningSeparated = 2
)

// Signature schemes: the entry names of a SignatureHeader.
const (
	SchemeV1 = "v1" // the secret itself
	SchemeV2 = "v2" // a per-direction key derived from the secret
)

// Key is one signing key and the scheme its entries carry.
type Key struct {
	Scheme string
	Secret []byte
}

// Direction labels of the v2 derived keys.
const (
	DirectionCall     = "call"
	DirectionCallback = "callback"
)

// DeriveKey returns the v2 key of one direction for a service secret.
func DeriveKey(secret []byte, direction string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("privops-webhook/" + direction))
	return m.Sum(nil)
}

// Version returns a service's signing version: 1 unless it is set to 2.
func Version(svc *privacy.Service) int {
	if svc != nil && svc.SigningVersion == SigningSeparated {
		return SigningSeparated
	}
	return SigningLegacy
}

// CallKeys returns the keys privops signs a call to svc with, newest first:
// the secrets themselves (v1) or their call keys (v2).
func CallKeys(svc *privacy.Service) ([]Key, error) {
	secrets, err := Secrets(svc)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, 0, len(secrets))
	for _, s := range secrets {
		if Version(svc) == SigningSeparated {
			keys = append(keys, Key{SchemeV2, DeriveKey(s, DirectionCall)})
		} else {
			keys = append(keys, Key{SchemeV1, s})
		}
	}
	return keys, nil
}

// CallbackKeys returns the keys a callback from svc may be signed with: the
// callback keys (v2) always, and on signing version 1 the secrets themselves
// (v1) too, so a legacy service can move its callbacks to v2 first.
func CallbackKeys(svc *privacy.Service) ([]Key, error) {
	secrets, err := Secrets(svc)
	if err != nil {
		return nil, err
	}
	var keys []Key
	for _, s := range secrets {
		keys = append(keys, Key{SchemeV2, DeriveKey(s, DirectionCallback)})
		if Version(svc) == SigningLegacy {
			keys = append(keys, Key{SchemeV1, s})
		}
	}
	return keys, nil
}

// SignWith returns a SignatureHeader value for body at time now with one entry
// per key, each named by its scheme.
func SignWith(now time.Time, body []byte, keys ...Key) string {
	t := strconv.FormatInt(now.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + t)
	for _, k := range keys {
		if len(k.Secret) == 0 {
			continue
		}
		m := hmac.New(sha256.New, k.Secret)
		m.Write([]byte(t + "."))
		m.Write(body)
		b.WriteString("," + k.Scheme + "=" + hex.EncodeToString(m.Sum(nil)))
	}
	return b.String()
}

// VerifyWith is Verify with keys of either scheme.
func VerifyWith(header string, body []byte, now time.Time, window time.Duration, keys ...Key) error {
	_, err := verifyKeys(header, "", bytes.NewReader(body), io.Discard, now, window, keys)
	return err
}

// VerifyStreamWith is VerifyStream with keys of either scheme.
func VerifyStreamWith(header string, body io.Reader, dst io.Writer, now time.Time, window time.Duration, keys ...Key) (int64, error) {
	return verifyKeys(header, "", body, dst, now, window, keys)
}

// VerifyPartWith is VerifyPart with keys of either scheme.
func VerifyPartWith(header, taskID string, n int, body io.Reader, dst io.Writer, now time.Time, window time.Duration, keys ...Key) (int64, error) {
	return verifyKeys(header, PartBound(taskID, n), body, dst, now, window, keys)
}
