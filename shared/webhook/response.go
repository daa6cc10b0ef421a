package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

// DefaultHeldReason is the reason of a hold whose service gave none.
const DefaultHeldReason = "held by the service"

// maxRetryAfter caps a service's Retry-After: a longer wait is for the retry
// budget to decide, not the service.
const maxRetryAfter = 24 * time.Hour

// answer maps a response to a result (see Run).
func (c *Connector) answer(ctx context.Context, call privacy.ConnectorCall, resp *http.Response, classify func(error) *Error) (privacy.ConnectorResult, *Error) {
	lookup := call.Action == privacy.ActionLookup
	switch s := resp.StatusCode; {
	case s == http.StatusOK || s == http.StatusNoContent:
		if call.Action == privacy.ActionExport {
			n, err := exportStream(ctx, resp.Body, call.Save, c.opts.MaxExportBytes, c.opts.MaxItemBytes, classify)
			if err != nil {
				return privacy.ConnectorResult{}, err
			}
			return privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: n}, nil
		}
		n, err := resultItems(resp.Body, classify)
		if err != nil {
			return privacy.ConnectorResult{}, err
		}
		return privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: n, Present: lookup}, nil
	case s == http.StatusAccepted:
		return privacy.ConnectorResult{Outcome: privacy.OutcomeAccepted}, nil
	case s == http.StatusNotFound:
		return privacy.ConnectorResult{Outcome: privacy.OutcomeNoData}, nil
	case s == http.StatusConflict:
		return privacy.ConnectorResult{Outcome: privacy.OutcomeHeld, Reason: heldReason(resp.Body)}, nil
	default:
		return privacy.ConnectorResult{}, c.statusError(resp)
	}
}

// statusError is the error of a status a call does not take as an answer: a
// redirect (never followed) and any other 4xx are permanent; 408, 425, 429
// and 5xx are transient, with the service's Retry-After when it sent one.
func (c *Connector) statusError(resp *http.Response) *Error {
	var e *Error
	switch s := resp.StatusCode; {
	case s >= 300 && s < 400:
		e = permanent("redirect", "redirects are not followed (service answered %d)", s)
	case s == http.StatusRequestTimeout || s == http.StatusTooEarly || s == http.StatusTooManyRequests || s >= 500 && s < 600:
		e = transient("unavailable", "service answered %d", s)
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.opts.Now())
		if e.RetryAfter > 0 {
			e.phrase += " (retry after " + e.RetryAfter.String() + ")"
		}
	case s >= 400 && s < 500:
		e = permanent("status", "service answered %d", s)
	default:
		e = permanent("status", "unexpected status %d", s)
	}
	e.Status = resp.StatusCode
	return e
}

// resultItems reads the optional {"items":N} of a 200 answer to anything but
// an export: empty means 0; more than 64 KiB, anything but such an object, or
// a negative count fails permanently.
func resultItems(body io.Reader, classify func(error) *Error) (int, *Error) {
	data, err := io.ReadAll(io.LimitReader(body, maxResultBody+1))
	if err != nil {
		return 0, classify(err)
	}
	if len(data) > maxResultBody {
		return 0, permanent("response-too-large", "response too large")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return 0, nil
	}
	var v struct {
		Items *int `json:"items"`
	}
	if err := json.Unmarshal(data, &v); err != nil || bytes.TrimSpace(data)[0] != '{' || v.Items != nil && *v.Items < 0 {
		return 0, permanent("malformed-response", "malformed response")
	}
	if v.Items == nil {
		return 0, nil
	}
	return *v.Items, nil
}

// heldReason reads the reason of a 409 answer, {"reason":"..."}, of at most
// 2 KiB of valid UTF-8. Anything else gives DefaultHeldReason: the outcome is
// clear from the status, and a hold must not fail for want of an explanation.
func heldReason(body io.Reader) string {
	data, err := io.ReadAll(io.LimitReader(body, maxHeldBody+1))
	if err != nil || len(data) > maxHeldBody || !utf8.Valid(data) {
		return DefaultHeldReason
	}
	var v struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(data, &v) != nil {
		return DefaultHeldReason
	}
	if r := cleanReason(v.Reason); r != "" {
		return r
	}
	return DefaultHeldReason
}

// cleanReason turns control characters (line breaks, escapes) into spaces and
// trims the result, so a reason shows as one line wherever it is displayed.
func cleanReason(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// retryAfter parses a Retry-After value, delta-seconds or an HTTP date
// (RFC 9110 §10.2.3), into a wait from now: 0 when absent, garbled or past,
// at most a day.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	return min(max(d, 0), maxRetryAfter)
}
