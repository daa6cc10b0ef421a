package inbound

import "errors"

// Code is the stable, machine-readable reason a message is refused.
type Code string

// Codes of a refused message. Every one is permanent: redelivering the same
// message gives the same answer, so the caller records the refusal and
// completes (or dead-letters) the message.
const (
	CodeTooLarge               Code = "too-large"               // body over MaxBodyBytes
	CodeContentType            Code = "content-type"            // broker content type is not a JSON CloudEvent
	CodeMalformed              Code = "malformed"               // not one UTF-8 JSON object with unique member names
	CodeUnsupportedSpecVersion Code = "unsupported-specversion" // specversion other than "1.0"
	CodeUnknownType            Code = "unknown-type"            // type privops does not accept (or no longer accepts)
	CodeSchema                 Code = "schema"                  // an attribute or data field breaks the contract
	CodeUnsigned               Code = "unsigned"                // no privops-signature property
	CodeBadSignature           Code = "bad-signature"           // malformed property, or the HMAC does not match
	CodeUnknownKey             Code = "unknown-key"             // the tenant has no active key with that id
	CodeUnknownTenant          Code = "unknown-tenant"          // no such tenant
	CodeStale                  Code = "stale"                   // signed longer ago than the window
	CodeFuture                 Code = "future"                  // signed further ahead than the window
	CodeTenantMismatch         Code = "tenant-mismatch"         // the key belongs to another tenant than tenantid
)

// Codes lists every code.
var Codes = []Code{CodeTooLarge, CodeContentType, CodeMalformed, CodeUnsupportedSpecVersion, CodeUnknownType,
	CodeSchema, CodeUnsigned, CodeBadSignature, CodeUnknownKey, CodeUnknownTenant, CodeStale, CodeFuture, CodeTenantMismatch}

// Error is a refused message: a stable code and a reason for the logs and the
// dead-letter description. A reason names an attribute or a field path
// ("data.subject.email"), never its value, and never quotes the body, so it
// holds no personal data.
type Error struct {
	Code   Code
	Reason string
}

func (e *Error) Error() string { return "inbound message refused: " + string(e.Code) + ": " + e.Reason }

func refuse(code Code, reason string) *Error { return &Error{Code: code, Reason: reason} }

// schemaErr says which field breaks the contract and how.
func schemaErr(path, reason string) *Error { return refuse(CodeSchema, path+" "+reason) }

// Lookup sentinels a KeyFunc returns (wrapped or not).
var (
	// ErrUnknownKey: the tenant exists but has no active key with the id:
	// never registered, or retired after a rotation.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrForeignKey: the key id is registered, but to another tenant. A key
	// store that keeps key ids per tenant only cannot tell, and returns
	// ErrUnknownKey; either way the message is refused.
	ErrForeignKey = errors.New("signing key belongs to another tenant")
)
