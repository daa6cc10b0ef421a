// Package certificates publishes the key that signs request certificates
// (HTTP trigger, route certificates/{*path}, public): GET
// /api/certificates/key answers the Ed25519 public key as a JWK set, or as
// PEM with ?format=pem, so anyone holding a certificate can check it offline
// (privops certificate verify FILE --key KEYFILE). No side effects.
package certificates

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"

	"github.com/privops/privops/shared/certificate"
	"github.com/privops/privops/shared/web"
)

// Certificates serves the published key.
type Certificates struct {
	key func() ed25519.PublicKey
}

// New returns the function for the public key of the certificate signer; key
// is called per request (dsr.Service.CertificateKey makes the key on first
// use, not at start).
func New(key func() ed25519.PublicKey) *Certificates { return &Certificates{key: key} }

// Routes lists the function's operations.
func (c *Certificates) Routes() []web.Route {
	return []web.Route{{Method: "GET", Pattern: "/api/certificates/key", Handler: c.publicKey}}
}

// Handler returns the http.Handler.
func (c *Certificates) Handler() http.Handler { return web.Mux(c.Routes()) }

func (c *Certificates) publicKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	if r.URL.Query().Get("format") == "pem" {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(certificate.PEMOf(c.key()))
		return
	}
	b, _ := json.Marshal(certificate.KeySet{Keys: []certificate.JWK{certificate.JWKOf(c.key())}})
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(append(b, '\n'))
}
