// Package openapi serves the OpenAPI 3.1 description of the portal and admin
// APIs (HTTP trigger, GET /api/openapi.json). A test checks that it lists
// exactly the routes the functions register.
package openapi

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var Document []byte

// Handler serves the document.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"type":"urn:privops:problem:method-not-allowed","title":"Method Not Allowed","status":405,"code":"method-not-allowed"}` + "\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(Document)
	})
}
