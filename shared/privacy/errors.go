// Package privacy is the domain of privops: tenants, data subject requests, their
// state machine, the audit chain, the message envelope and the ports (store, queue,
// mailer) that adapters implement. It uses the standard library only and never
// reads the environment, the clock or the network itself.
package privacy

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by adapters (wrapped with the operation). The edge maps
// them to a status or a retry decision; nothing compares error texts.
var (
	// ErrNotFound: the document does not exist (or belongs to another tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a create hit an existing id, or an update's ETag no longer matches.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: a transient failure (throttling, timeout); the caller may retry.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Kind classifies a user-facing error; the HTTP edge maps it to a status code.
type Kind int

// Kinds of user-facing errors.
const (
	KindInvalid          Kind = iota + 1 // 400 / 422: the input is wrong
	KindUnauthorized                     // 401: no or bad credentials
	KindForbidden                        // 403: credentials fine, action not allowed
	KindNotFound                         // 404: absent, or not visible to the caller
	KindMethodNotAllowed                 // 405: the endpoint exists for other methods
	KindConflict                         // 409: the state does not allow the action
	KindGone                             // 410: expired
	KindTooLarge                         // 413: body too large
	KindUnsupported                      // 415: wrong content type
	KindUnprocessable                    // 422: well-formed but refused by a rule
	KindTooMany                          // 429: rate limited or attempts exhausted
	KindUnavailable                      // 503: a dependency is down; try later
	// KindPreconditionFailed: 412, the If-Match ETag is stale (RFC 9110 §13.1.1).
	KindPreconditionFailed
	// KindPreconditionRequired: 428, a change that needs If-Match came without it (RFC 6585 §3).
	KindPreconditionRequired
	// KindNotImplemented: 501, the operation is known but not available yet.
	KindNotImplemented
)

// Error is a user-facing error with a stable machine-readable code
// ("invalid-email", "code-expired", ...) and a human message that never contains
// personal data.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Field names the input field at fault (a JSON name such as "timeZone"),
	// when one is; the edge returns it beside the code.
	Field string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns a KindUnprocessable *Error naming the field at fault.
func FieldErrorf(field, code, format string, args ...any) *Error {
	return &Error{Kind: KindUnprocessable, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
