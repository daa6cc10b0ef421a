// Package certificate seals and checks signed documents such as erasure
// certificates: a JWS in the flattened JSON serialization (RFC 7515 §7.2.2)
// signed with Ed25519 ("alg":"EdDSA", RFC 8037), with the signed payload
// repeated unencoded as the extra member "certificate" so people can read it
// (RFC 7515 §7.2.1: members an implementation does not understand are
// ignored, so any JOSE library verifies the file as it is). Keys are published
// as a JWK set. Standard library only; no side effects.
package certificate

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Type is the "typ" of a sealed certificate's protected header.
const Type = "privops-certificate+json"

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Document is a sealed certificate as stored and served.
type Document struct {
	Certificate json.RawMessage `json:"certificate"`
	Protected   string          `json:"protected"`
	Payload     string          `json:"payload"`
	Signature   string          `json:"signature"`
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

var b64 = base64.RawURLEncoding

// Seal signs payload (a JSON object) with priv and returns the document's
// bytes. The same inputs give the same bytes (Ed25519 is deterministic).
func Seal(priv ed25519.PrivateKey, payload []byte) ([]byte, error) {
	if !json.Valid(payload) {
		return nil, errors.New("seal certificate: payload is not JSON")
	}
	h, _ := json.Marshal(header{Alg: "EdDSA", Kid: KeyID(priv.Public().(ed25519.PublicKey)), Typ: Type})
	protected, encoded := b64.EncodeToString(h), b64.EncodeToString(payload)
	sig := ed25519.Sign(priv, []byte(protected+"."+encoded))
	return json.Marshal(Document{Certificate: payload, Protected: protected, Payload: encoded, Signature: b64.EncodeToString(sig)})
}

// Errors of Open.
var (
	ErrMalformed  = errors.New("not a sealed certificate")
	ErrUnknownKey = errors.New("signed with a key that is not given")
	ErrBadSig     = errors.New("the signature does not verify")
	ErrMismatch   = errors.New("the readable certificate differs from the signed payload")
)

// Open checks a sealed document against keys (by key id) and returns the
// signed payload. It fails with one of the errors above (wrapped with detail).
func Open(doc []byte, keys map[string]ed25519.PublicKey) ([]byte, error) {
	var d Document
	if err := json.Unmarshal(doc, &d); err != nil || d.Protected == "" || d.Payload == "" || d.Signature == "" {
		return nil, ErrMalformed
	}
	hb, err := b64.DecodeString(d.Protected)
	var h header
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return nil, fmt.Errorf("%w: protected header", ErrMalformed)
	}
	if h.Alg != "EdDSA" || h.Typ != Type {
		return nil, fmt.Errorf("%w: alg %q, typ %q", ErrMalformed, h.Alg, h.Typ)
	}
	pub, ok := keys[h.Kid]
	if !ok {
		return nil, fmt.Errorf("%w (key id %q)", ErrUnknownKey, h.Kid)
	}
	sig, err := b64.DecodeString(d.Signature)
	if err != nil || !ed25519.Verify(pub, []byte(d.Protected+"."+d.Payload), sig) {
		return nil, ErrBadSig
	}
	payload, err := b64.DecodeString(d.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload", ErrMalformed)
	}
	var a, b bytes.Buffer
	if json.Compact(&a, payload) != nil || json.Compact(&b, d.Certificate) != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
		return nil, ErrMismatch
	}
	return payload, nil
}

// JWK is an Ed25519 public key as a JSON Web Key (RFC 8037 §2).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKOf returns pub as a JWK.
func JWKOf(pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub), Kid: KeyID(pub), Use: "sig", Alg: "EdDSA"}
}

// KeySet is a JWK set: {"keys":[…]}.
type KeySet struct {
	Keys []JWK `json:"keys"`
}

// ParseKeys reads public keys from a JWK set, one JWK, or PEM
// ("PUBLIC KEY", PKIX) and returns them by key id.
func ParseKeys(data []byte) (map[string]ed25519.PublicKey, error) {
	out := map[string]ed25519.PublicKey{}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		for rest := trimmed; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			pub, ok := k.(ed25519.PublicKey)
			if err != nil || !ok {
				return nil, errors.New("a PEM block is not an Ed25519 public key")
			}
			out[KeyID(pub)] = pub
		}
	} else {
		var set KeySet
		if err := json.Unmarshal(trimmed, &set); err != nil || len(set.Keys) == 0 {
			var one JWK
			if json.Unmarshal(trimmed, &one) != nil || one.Kty == "" {
				return nil, errors.New("keys are neither a JWK set, a JWK nor PEM")
			}
			set.Keys = []JWK{one}
		}
		for _, k := range set.Keys {
			x, err := b64.DecodeString(k.X)
			if k.Kty != "OKP" || k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("key %q is not an Ed25519 JWK", k.Kid)
			}
			pub := ed25519.PublicKey(x)
			if k.Kid != "" && k.Kid != KeyID(pub) {
				return nil, fmt.Errorf("key %q: kid does not match the key", k.Kid)
			}
			out[KeyID(pub)] = pub
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no keys found")
	}
	return out, nil
}

// PEMOf returns pub as a PEM "PUBLIC KEY" block.
func PEMOf(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
