package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Error is a failed webhook call; Run returns it as a *Error. Its text is the
// action, a fixed phrase and at most the HTTP status and a duration (code
// "save" adds the text of Save's own error, privops's blob adapter): never a
// body, a URL or a subject identifier, because the task records it as its
// failure reason.
//
// Codes:
//   - transient (Temporary, wraps privacy.ErrUnavailable): "unavailable" (408,
//     425, 429, 5xx), "timeout", "connection" (refused, reset, closed early, TLS,
//     DNS), "cancelled" (the caller's context ended; also wraps its error),
//     "save" when Save's error wraps privacy.ErrUnavailable
//   - permanent: "status" (another 4xx or an unexpected status), "redirect",
//     "address-not-allowed" (SSRF guard; wraps ErrAddressNotAllowed),
//     "invalid-url", "no-secret", "invalid-call", "response-too-large",
//     "malformed-response", "export-too-large", "export-item-too-large",
//     "malformed-export", "save"
type Error struct {
	Action     privacy.Action
	Code       string
	Status     int           // the service's HTTP status; 0 when none came back
	RetryAfter time.Duration // the service's Retry-After (at most a day); 0 when absent
	Temporary  bool          // retry with backoff; the error wraps privacy.ErrUnavailable
	phrase     string
	cause      error // for errors.Is only; its text is not part of Error()
}

func (e *Error) Error() string {
	if e.Action == "" {
		return "webhook: " + e.phrase
	}
	return "webhook " + string(e.Action) + ": " + e.phrase
}

// Unwrap returns privacy.ErrUnavailable for a transient error, and the cause
// (a context error, Save's error, ErrAddressNotAllowed) when there is one.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Temporary {
		errs = append(errs, privacy.ErrUnavailable)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// permanent and transient build an *Error; Run fills in the action.
func permanent(code, format string, args ...any) *Error {
	return &Error{Code: code, phrase: fmt.Sprintf(format, args...)}
}

func transient(code, format string, args ...any) *Error {
	return &Error{Code: code, Temporary: true, phrase: fmt.Sprintf(format, args...)}
}

// transportError classifies an error of the client or of a body read. parent
// is the caller's context, to tell its end from the per-call timeout. Every
// network failure is transient except a dial the SSRF guard refused: a
// certificate or DNS problem may be fixed before the deadline, and the retry
// budget turns a lasting one into a failed task anyway.
func transportError(parent context.Context, timeout time.Duration, err error) *Error {
	var dnsErr *net.DNSError
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, ErrAddressNotAllowed):
		e := permanent("address-not-allowed", "connector address not allowed")
		e.cause = ErrAddressNotAllowed
		return e
	case parent.Err() != nil:
		e := transient("cancelled", "call cancelled")
		e.cause = parent.Err()
		return e
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return transient("timeout", "timed out after %s", timeout)
	case errors.As(err, &dnsErr):
		return transient("connection", "dns lookup failed")
	case errors.Is(err, syscall.ECONNREFUSED):
		return transient("connection", "connection refused")
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return transient("connection", "connection reset")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return transient("connection", "connection closed early")
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &invalidCert), errors.As(err, &recordErr):
		return transient("connection", "tls handshake failed")
	}
	return transient("connection", "connection failed")
}

// RetryDelay is the service's Retry-After, for callers that honour it
// without knowing this package (dsr reads it through an interface).
func (e *Error) RetryDelay() time.Duration { return e.RetryAfter }
