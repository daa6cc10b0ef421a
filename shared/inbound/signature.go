package inbound

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// maxSignatureLen bounds the property Decode parses.
const maxSignatureLen = 512

var keyIDRe = lazy(`^[a-z0-9-]{1,64}$`)

// signature is a parsed SignatureProperty value.
type signature struct {
	t     string // the timestamp as sent: it is part of the signed text
	at    time.Time
	keyID string
	mac   []byte
}

// parseSignature reads t=<unix seconds>,k=<key id>,v1=<64 hex digits>: each
// exactly once, in any order, spaces around entries allowed. Entries with
// other names (a future v2) are ignored.
func parseSignature(p string) (signature, error) {
	if p == "" {
		return signature{}, refuse(CodeUnsigned, "the "+SignatureProperty+" property is missing")
	}
	bad := refuse(CodeBadSignature, "the "+SignatureProperty+" property is not t=<unix seconds>,k=<key id>,v1=<hex HMAC-SHA256>")
	if len(p) > maxSignatureLen {
		return signature{}, bad
	}
	var s signature
	var seenT, seenK, seenV bool
	for part := range strings.SplitSeq(p, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return signature{}, bad
		}
		switch name {
		case "t":
			sec, err := strconv.ParseInt(v, 10, 64)
			if seenT || !digits(v) || err != nil {
				return signature{}, bad
			}
			s.t, s.at, seenT = v, time.Unix(sec, 0), true
		case "k":
			if seenK || !keyIDRe.MatchString(v) {
				return signature{}, bad
			}
			s.keyID, seenK = v, true
		case "v1":
			mac, err := hex.DecodeString(v)
			if seenV || err != nil || len(mac) != sha256.Size {
				return signature{}, bad
			}
			s.mac, seenV = mac, true
		}
	}
	if !seenT || !seenK || !seenV {
		return signature{}, bad
	}
	return s, nil
}

// matches reports, in constant time, whether the signature is the HMAC of
// body under secret.
func (s signature) matches(secret, body []byte) bool {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(s.t + "."))
	m.Write(body)
	return hmac.Equal(m.Sum(nil), s.mac)
}

// digits reports whether s is 1 to 19 ASCII digits.
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
