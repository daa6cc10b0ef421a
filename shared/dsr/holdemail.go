package dsr

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/privops/privops/shared/privacy"
)

// A subject hold keeps its subject's normalised email sealed, because a
// retention purge at a service must spare that subject and can only do so by
// an exclusion list of salted hashes (HMAC-SHA256(fresh salt, email)), which
// the keyed subject hash cannot give. Sealed with AES-256-GCM under the
// hold-email key, the tenant and hold id bound as additional data (a sealed
// email copied to another hold or tenant does not open), version-tagged "1:".
// Opened only by the sweep, for the exclusion list; never logged, never
// answered; dropped when the hold is released.

const sealTag = "1:"

func (s *Service) holdAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.pk.holdEmail)
	if err != nil {
		return nil, fmt.Errorf("hold email key: %w", err)
	}
	return cipher.NewGCM(block)
}

func sealAD(tenantID, holdID string) []byte { return []byte(tenantID + "\x00" + holdID) }

// sealHoldEmail seals the normalised email of subject hold holdID.
func (s *Service) sealHoldEmail(tenantID, holdID, email string) (string, error) {
	aead, err := s.holdAEAD()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal hold email: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(privacy.NormalizeEmail(email)), sealAD(tenantID, holdID))
	return sealTag + base64.RawStdEncoding.EncodeToString(out), nil
}

// OpenHoldEmail returns the normalised email of a subject hold of the
// tenant, for a retention purge's exclusion list; false for a hold without
// one (placed before holds kept it, or released) or that does not open.
func (s *Service) OpenHoldEmail(tenantID string, h *privacy.Hold) (string, bool) {
	raw, ok := strings.CutPrefix(h.SealedEmail, sealTag)
	if !ok || h.Scope != privacy.HoldSubject {
		return "", false
	}
	b, err := base64.RawStdEncoding.DecodeString(raw)
	aead, aerr := s.holdAEAD()
	if err != nil || aerr != nil || len(b) < aead.NonceSize() {
		return "", false
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, b[:n], b[n:], sealAD(tenantID, h.ID))
	if err != nil {
		return "", false
	}
	return string(plain), true
}
