package dsr

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
)

// Each secret value the service makes has its own key, derived from
// Keys.Token with a label:
//
//	request tokens   HMAC(Token, "privops/key/request-token")
//	one-time codes   HMAC(Token, "privops/key/otp")
//	idempotency ids  HMAC(Token, "privops/key/idempotency")
//	download links   HMAC(Token, "privops/key/download")
//	certificates     Ed25519 key from the seed HMAC(Token, "privops/key/certificate")
//	hold emails      HMAC(Token, "privops/key/hold-email"), an AES-256-GCM key
//	spooled mails    AES-256-GCM key HMAC(Token, "privops/key/mail-spool")
//
// so a value made for one purpose can never be checked as another's, and each
// can be rotated on its own later. Before this, Keys.Token itself made all
// four (each message started with its purpose's name). Values made that way
// are still held: request tokens by subjects, code hashes in request
// documents (15 minutes), idempotency ids as request ids, links in mails
// (exportLinkDays). New values carry a version tag ("2." on tokens and link
// signatures, "2:" on code hashes) and are checked with the new keys only; an
// untagged value is checked with the legacy key. Idempotency ids cannot carry
// a tag (they are request ids), so a submission with an Idempotency-Key also
// looks for the request its legacy id names before creating a new one.
type purposeKeys struct {
	token, code, idempotency, link []byte
	spool                          []byte // seals a spooled mail (spool.go)
	// certificate signs request certificates. It is made on first use: the
	// first Ed25519 key of a process computes the curve's base point table,
	// 3 % of start-up's CPU (perf), and most processes sign nothing.
	certificate func() ed25519.PrivateKey
	holdEmail   []byte // seals a subject hold's email (holdemail.go)
}

func derivePurposes(root []byte) purposeKeys {
	d := func(label string) []byte {
		m := hmac.New(sha256.New, root)
		m.Write([]byte("privops/key/" + label))
		return m.Sum(nil)
	}
	return purposeKeys{token: d("request-token"), code: d("otp"), idempotency: d("idempotency"), link: d("download"),
		spool: d("mail-spool"), holdEmail: d("hold-email"),
		certificate: sync.OnceValue(func() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(d("certificate")) })}
}

// Version tags of values made with the per-purpose keys.
const (
	tokenTag = "2."
	codeTag  = "2:"
)

// macWith is the service's message layout (each part NUL-terminated) under key.
func macWith(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Token returns the request token handed to the subject at submission. It is
// derived, not stored: HMAC(request-token key, tenant, id), tagged.
func (s *Service) Token(tenantID, id string) string {
	return tokenTag + base64.RawURLEncoding.EncodeToString(macWith(s.pk.token, tenantID, id)[:24])
}

// CheckToken reports whether token is the request's token, in constant time:
// a tagged token against the request-token key, an untagged one (handed out
// before per-purpose keys) against the legacy key.
func (s *Service) CheckToken(tenantID, id, token string) bool {
	want := s.Token(tenantID, id)
	if !strings.HasPrefix(token, tokenTag) {
		want = base64.RawURLEncoding.EncodeToString(s.mac("request-token", tenantID, id)[:24])
	}
	return hmac.Equal([]byte(token), []byte(want))
}

// codeHash is what a request document keeps of its one-time code.
func (s *Service) codeHash(tenantID, id, code string) string {
	return codeTag + hex.EncodeToString(macWith(s.pk.code, tenantID, id, code))
}

// checkCode reports whether code matches the stored hash, in constant time;
// an untagged hash was made with the legacy key.
func (s *Service) checkCode(stored, tenantID, id, code string) bool {
	want := s.codeHash(tenantID, id, code)
	if !strings.HasPrefix(stored, codeTag) {
		want = hex.EncodeToString(s.mac("otp", tenantID, id, code))
	}
	return hmac.Equal([]byte(stored), []byte(want))
}

// idempotentID is the request id a submission with an idempotency key gets;
// legacyIdempotentID the one it got before per-purpose keys.
func (s *Service) idempotentID(tenantID, actor, key string) string {
	return "dsr_" + hex.EncodeToString(macWith(s.pk.idempotency, tenantID, actor, key)[:16])
}

func (s *Service) legacyIdempotentID(tenantID, actor, key string) string {
	return "dsr_" + hex.EncodeToString(s.mac("idempotency", tenantID, actor, key)[:16])
}

// linkSig signs a download link (tagged); checkLinkSig accepts an untagged
// signature made with the legacy key, for links mailed before.
func (s *Service) linkSig(tenantID, id, exp string) string {
	return tokenTag + base64.RawURLEncoding.EncodeToString(macWith(s.pk.link, tenantID, id, exp)[:24])
}

func (s *Service) checkLinkSig(sig, tenantID, id, exp string) bool {
	want := s.linkSig(tenantID, id, exp)
	if !strings.HasPrefix(sig, tokenTag) {
		want = base64.RawURLEncoding.EncodeToString(s.mac("download", tenantID, id, exp)[:24])
	}
	return hmac.Equal([]byte(sig), []byte(want))
}
