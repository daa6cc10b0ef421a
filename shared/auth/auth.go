// Package auth verifies the bearer JWTs of the admin API and decides what a
// caller's roles allow. It is called by the admin HTTP functions on every
// request; its only side effect is fetching the signing keys (JWKS) of the
// identity provider, cached.
//
// Two verifiers: HS256 with a shared key (standalone dev mode, tokens minted by
// Mint) and JWKS (production: RS256 or ES256 keys published by the identity
// provider, fetched and cached by github.com/MicahParks/keyfunc and jwkset).
// Each accepts one family of algorithms only (HMAC, or public keys), so
// "alg": "none" and HS/RS confusion fail; so do tokens with critical header
// extensions ("crit") and dates that are not JSON numbers.
package auth

import (
	"context"
	"net/http"
	"slices"
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

// Claims is what a verified token says about its caller. A token is either a
// tenant token (TenantID set, Operator false: it may act on that tenant only,
// with the tenant roles) or an operator token (Operator true, TenantID empty:
// it may use the operator API only, with the operator roles). Never both.
type Claims struct {
	Subject   string    // "sub": the caller, named as actor in the audit
	TenantID  string    // the tenant claim (Mapping.TenantClaim): the only tenant the caller may act on
	Operator  bool      // no tenant claim, or the operator's own (Mapping.OperatorTenant)
	Roles     []string  // the roles claim (Mapping.RolesClaim): see the Role constants
	ExpiresAt time.Time // "exp"
}

// Mapping says which claims of the identity provider's tokens name the privops
// tenant and carry the roles. The zero value is the dev default: "tid" and
// "roles", and only a token without a tenant claim is an operator token.
//
// Why configurable: in a Microsoft Entra ID token "tid" is the directory's id,
// so one directory could serve one privops tenant only; a custom claim (for
// example a directory extension, "extn.privopsTenant") names the tenant
// instead, and app roles arrive in "roles".
type Mapping struct {
	TenantClaim string // default "tid"
	RolesClaim  string // default "roles"
	// OperatorTenant is a tenant-claim value that marks an operator token (the
	// operator's own directory, say); "" means only a token without a tenant
	// claim is one. It can never be a privops tenant id.
	OperatorTenant string
}

func (m Mapping) tenantClaim() string {
	if m.TenantClaim == "" {
		return "tid"
	}
	return m.TenantClaim
}

func (m Mapping) rolesClaim() string {
	if m.RolesClaim == "" {
		return "roles"
	}
	return m.RolesClaim
}

// Verifier checks a bearer token.
type Verifier interface {
	// Verify checks token's algorithm, signature, exp (required), nbf, iat,
	// issuer and audience (when configured) and sub (required), reads the
	// tenant and roles claims the Mapping names (a token without a tenant claim,
	// or with the operator's, is an operator token), and returns its claims. Errors carry a *privacy.Error (find it with
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

// Tenant roles a tenant token may carry in its roles claim; others are ignored.
const (
	RoleAdmin    = "privacy-admin"    // everything
	RoleApprover = "privacy-approver" // read, decide, submit on behalf
	RoleViewer   = "privacy-viewer"   // read, read the audit
)

// Operator roles an operator token may carry; a tenant token's operator roles
// allow nothing, nor do an operator token's tenant roles.
const (
	RoleOperatorAdmin   = "operator-admin"   // onboard, change, suspend, resume and offboard tenants; read across tenants
	RoleSecurityOfficer = "security-officer" // declare and update breach incidents; read across tenants
	RoleOperatorViewer  = "operator-viewer"  // read across tenants: counts and health, never subjects' data
)

// TenantRoles and OperatorRoles list the roles of each kind of token.
var (
	TenantRoles   = []string{RoleAdmin, RoleApprover, RoleViewer}
	OperatorRoles = []string{RoleOperatorAdmin, RoleSecurityOfficer, RoleOperatorViewer}
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

	// Operator actions (operator tokens only):
	//
	//	action                  operator-admin  security-officer  operator-viewer
	//	ActionOperatorRead            ✓                ✓                 ✓
	//	ActionManageTenants           ✓
	//	ActionManageIncidents                          ✓

	// ActionOperatorRead: list and read tenants, their health and counts, and
	// the operator audit chain; never subjects' data.
	ActionOperatorRead Action = "operator-read"
	// ActionManageTenants: create, change, suspend, resume and offboard tenants.
	ActionManageTenants Action = "manage-tenants"
	// ActionManageIncidents: declare and update breach incidents.
	ActionManageIncidents Action = "manage-incidents"
)

// grants and operatorGrants are the role matrices documented on the Action
// constants, for tenant and operator tokens.
var (
	grants = map[string][]Action{
		RoleAdmin:    {ActionRead, ActionDecide, ActionSubmit, ActionConfigure, ActionReadAudit},
		RoleApprover: {ActionRead, ActionDecide, ActionSubmit},
		RoleViewer:   {ActionRead, ActionReadAudit},
	}
	operatorGrants = map[string][]Action{
		RoleOperatorAdmin:   {ActionOperatorRead, ActionManageTenants},
		RoleSecurityOfficer: {ActionOperatorRead, ActionManageIncidents},
		RoleOperatorViewer:  {ActionOperatorRead},
	}
)

// Can reports whether any of c's roles allows action (see the matrices on the
// Action constants): tenant roles count on a tenant token only, operator roles
// on an operator token only. Unknown roles and actions allow nothing. It does
// not check the tenant: the caller compares c.TenantID with the tenant acted on.
func (c Claims) Can(action Action) bool {
	g := grants
	if c.Operator {
		g = operatorGrants
	}
	for _, role := range c.Roles {
		for _, a := range g[role] {
			if a == action {
				return true
			}
		}
	}
	return false
}

// KnownRole reports whether role is a role of the given kind of token.
func KnownRole(role string, operator bool) bool {
	if operator {
		return slices.Contains(OperatorRoles, role)
	}
	return slices.Contains(TenantRoles, role)
}
