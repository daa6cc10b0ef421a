package cosmos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/privops/privops/shared/privacy"
)

// translate maps an SDK error to the port's sentinels; it is the one place
// that does. 404 is privacy.ErrNotFound; 409 (id exists) and 412 (ETag moved
// on) are privacy.ErrConflict; 429 and 449 (throttled after the SDK's
// retries), 503, 408 and time-outs are privacy.ErrUnavailable. The SDK's
// error stays in the chain for errors.As, but its text, which quotes the
// response body, is replaced by the status and Cosmos error code.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		se := &statusError{status: re.StatusCode, code: re.ErrorCode, err: re}
		switch re.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %w", privacy.ErrNotFound, se)
		case http.StatusConflict, http.StatusPreconditionFailed:
			return fmt.Errorf("%w: %w", privacy.ErrConflict, se)
		case http.StatusTooManyRequests, 449, http.StatusServiceUnavailable, http.StatusRequestTimeout:
			return fmt.Errorf("%w: %w", privacy.ErrUnavailable, se)
		}
		return se
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", privacy.ErrUnavailable, err)
	}
	return err
}

// statusError is an SDK response error with a short text: the status and the
// Cosmos error code, never the response body.
type statusError struct {
	status int
	code   string
	err    *azcore.ResponseError
}

func (e *statusError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("cosmos answered %d", e.status)
	}
	return fmt.Sprintf("cosmos answered %d (%s)", e.status, e.code)
}

func (e *statusError) Unwrap() error { return e.err }

// RetryAfter is Cosmos's own wait on a throttled answer (x-ms-retry-after-ms,
// sent with 429 and 449), 0 when it gave none. The HTTP edge passes it on as
// Retry-After with the 503 the caller gets.
func (e *statusError) RetryAfter() time.Duration {
	if e.err == nil || e.err.RawResponse == nil {
		return 0
	}
	ms, err := strconv.ParseInt(e.err.RawResponse.Header.Get("x-ms-retry-after-ms"), 10, 64)
	if err != nil || ms <= 0 {
		return 0
	}
	return min(time.Duration(ms)*time.Millisecond, time.Hour)
}

// statusOf returns the HTTP status of an SDK error, or 0.
func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// sessionToken returns the session token of a failed call's response, if any,
// so that a read after a 404 still carries its session.
func sessionToken(err error) *string {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		if t := re.RawResponse.Header.Get("x-ms-session-token"); t != "" {
			return &t
		}
	}
	return nil
}

// invalidCursor is the user error for a page cursor that is malformed, made
// for another listing, or refused by Cosmos (an expired continuation token).
func invalidCursor() error {
	return privacy.Errorf(privacy.KindInvalid, "invalid-cursor", "the page cursor is not valid")
}
