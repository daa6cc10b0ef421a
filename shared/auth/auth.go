// Package auth verifies the bearer JWTs of the admin API and decides what a
// caller's roles allow. It is called by the admin HTTP functions on every
// request; its only side effect is fetching the signing keys (JWKS) of the
// identity provider, cached.
//
// Two verifiers: HS256 with a shared key (standalone dev mode, tokens minted by
// Mint) and JWKS (production: RS256 keys published by the identity provider).
// Each accepts its one algorithm only, so "alg": "none" and HS/RS confusion fail.
package auth

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Codes of the *privacy.Error values this package returns.
const (
	// CodeMissingToken: no "Authorization: Bearer" header (KindUnauthorized).
	CodeMissingToken = "missing-token"
	// CodeInvalidToken: malformed, badly signed, wrong algorithm, issuer or
	// audience, not yet valid, or lacking a required claim (KindUnauthorized).
	CodeInvalidToken = "invalid-token"
	// CodeTokenExpired: past its exp, beyond the leeway (KindUnauthorized).
	CodeTokenExpired = "token-expired"
	// CodeJWKSUnavailable: the signing keys could not be fetched (KindUnavailable).
	CodeJWKSUnavailable = "jwks-unavailable"
)

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 60 * time.Second

// Claims is what a verified token says about its caller.
type Claims struct {
	Subject   string    // "sub": the caller, named as actor in the audit
	TenantID  string    // "tid": the only tenant the caller may act on
	Roles     []string  // "roles": see RoleAdmin, RoleApprover, RoleViewer
	ExpiresAt time.Time // "exp"
}

// Verifier checks a bearer token.
type Verifier interface {
	// Verify checks token's algorithm, signature, exp (required), nbf, iat,
	// issuer and audience (when configured), sub and tid (required), and
	// returns its claims. Errors carry a *privacy.Error (find it with
	// privacy.AsError): KindUnauthorized with CodeMissingToken, CodeInvalidToken
	// or CodeTokenExpired, or KindUnavailable with CodeJWKSUnavailable. No error
	// text contains the token. Safe for concurrent use.
	Verify(ctx context.Context, token string) (Claims, error)
}

// FromRequest returns the token of r's "Authorization: Bearer <token>" header
// (the scheme is case-insensitive). Error: a *privacy.Error KindUnauthorized
// CodeMissingToken when the header is absent, of another scheme or empty.
func FromRequest(r *http.Request) (string, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", privacy.Errorf(privacy.KindUnauthorized, CodeMissingToken,
			`send the access token as "Authorization: Bearer <token>"`)
	}
	return token, nil
}

// Roles a token may carry in its "roles" claim; others are ignored.
const (
	RoleAdmin    = "privacy-admin"    // everything
	RoleApprover = "privacy-approver" // read, decide, submit on behalf
	RoleViewer   = "privacy-viewer"   // read, read the audit
)

// Action is something the admin API lets a caller do.
type Action string

// Actions, and which role allows each:
//
//	action           admin  approver  viewer
//	ActionRead         ✓       ✓        ✓
//	ActionDecide       ✓       ✓
//	ActionSubmit       ✓       ✓
//	ActionConfigure    ✓
//	ActionReadAudit    ✓                ✓
//
// An approver does not read the audit chain: that is for those who check the
// approvers (least privilege); a caller who needs both holds both roles.
const (
	// ActionRead: list and read requests, tasks and their results.
	ActionRead Action = "read"
	// ActionDecide: approve, deny, extend a deadline (with a reason), cancel,
	// place or lift a legal hold.
	ActionDecide Action = "decide"
	// ActionSubmit: submit a request on behalf of a data subject.
	ActionSubmit Action = "submit"
	// ActionConfigure: configure services, retention policies, breach contacts.
	ActionConfigure Action = "configure"
	// ActionReadAudit: read the audit chain.
	ActionReadAudit Action = "read-audit"
)

// grants is the role matrix documented on the Action constants.
var grants = map[string][]Action{
	RoleAdmin:    {ActionRead, ActionDecide, ActionSubmit, ActionConfigure, ActionReadAudit},
	RoleApprover: {ActionRead, ActionDecide, ActionSubmit},
	RoleViewer:   {ActionRead, ActionReadAudit},
}

// Can reports whether any of c's roles allows action (see the matrix on the
// Action constants). Unknown roles and actions allow nothing. It does not check
// the tenant: the caller compares c.TenantID with the tenant acted on.
func (c Claims) Can(action Action) bool {
	for _, role := range c.Roles {
		for _, a := range grants[role] {
			if a == action {
				return true
			}
		}
	}
	return false
}
