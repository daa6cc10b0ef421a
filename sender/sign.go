package sender

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// SignatureProperty is the application property (Service Bus) or message
// attribute (SQS) that carries a message's signature:
//
//	t=<unix seconds>,k=<key id>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
const SignatureProperty = "privops-signature"

// MinSecretBytes is the shortest key secret: RFC 2104 §3 discourages HMAC keys
// shorter than the hash output (32 bytes for SHA-256).
const MinSecretBytes = 32

// Key is one of a tenant's signing keys, as registered with privops. Key ids
// are per tenant: 1 to 64 of a-z, 0-9 and '-'. A tenant has at most two active
// keys, so it can roll one: register the new key, switch the senders to it,
// then retire the old one.
type Key struct {
	ID     string
	Secret []byte
}

func (k Key) check() error {
	if len(k.ID) == 0 || len(k.ID) > 64 {
		return errors.New("sender: key id must be 1-64 of a-z, 0-9 and '-'")
	}
	for i := 0; i < len(k.ID); i++ {
		c := k.ID[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return errors.New("sender: key id must be 1-64 of a-z, 0-9 and '-'")
		}
	}
	if len(k.Secret) < MinSecretBytes {
		return errors.New("sender: key secret must be at least 32 bytes")
	}
	return nil
}

// Sign returns the SignatureProperty value for body signed with key at now.
// It does not check the key; Event.Message does.
func Sign(key Key, body []byte, now time.Time) string {
	t := strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write([]byte(t + "."))
	mac.Write(body)
	return "t=" + t + ",k=" + key.ID + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
