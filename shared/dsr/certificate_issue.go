package dsr

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/certificate"
	"github.com/privops/privops/shared/privacy"
)

// A request's certificate is issued once, in the write that completes the
// request (complete), sealed with the service's Ed25519 certificate key
// (keys.go) and stored in the request document, so every read serves the
// same bytes. A request completed before certificates were stored gets its
// certificate on the first read, stored by that read. A retry round that
// completes the request again issues a new certificate for the new outcome.

// CertificateKey is the public half of the certificate key, published at
// GET /api/certificates/key.
func (s *Service) CertificateKey() ed25519.PublicKey {
	return s.pk.certificate().Public().(ed25519.PublicKey)
}

func (s *Service) certificateKeyID() string { return certificate.KeyID(s.CertificateKey()) }

// sealCertificate seals r's certificate into r; the caller writes r.
func (s *Service) sealCertificate(r *privacy.Request, now time.Time) error {
	c, err := s.certificateOf(r, now)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode certificate: %w", err)
	}
	doc, err := certificate.Seal(s.pk.certificate(), payload)
	if err != nil {
		return err
	}
	r.Certificate = string(doc)
	return nil
}

// Certificate returns a request's sealed certificate (the stored bytes) and
// its content. Only an ended request has one (409 not-complete).
func (s *Service) Certificate(ctx context.Context, tenantID, id string) ([]byte, *Certificate, error) {
	_, r, err := s.load(ctx, tenantID, id)
	if err != nil {
		return nil, nil, err
	}
	if r.Certificate == "" {
		if _, err := s.certificateOf(r, s.now()); err != nil {
			return nil, nil, err // not ended
		}
		r, err = s.update(ctx, r, func(r *privacy.Request) error {
			if r.Certificate != "" {
				return errStale
			}
			now := s.now()
			if err := s.sealCertificate(r, now); err != nil {
				return err
			}
			s.audit(r, now, "system", "certificate.issued", map[string]string{"certificateKey": s.certificateKeyID()})
			return nil
		})
		if errors.Is(err, errStale) {
			return s.Certificate(ctx, tenantID, id) // issued meanwhile: read it
		}
		if err != nil {
			return nil, nil, fmt.Errorf("issue certificate: %w", err)
		}
		s.flushQuietly(ctx, r)
	}
	payload, err := certificate.Open([]byte(r.Certificate), map[string]ed25519.PublicKey{s.certificateKeyID(): s.CertificateKey()})
	if err != nil {
		return nil, nil, fmt.Errorf("open stored certificate of %s: %w", r, err)
	}
	var c Certificate
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, nil, fmt.Errorf("decode stored certificate of %s: %w", r, err)
	}
	return []byte(r.Certificate), &c, nil
}
