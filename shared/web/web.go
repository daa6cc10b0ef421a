// Package web holds the HTTP edge shared by the portal and admin functions:
// problem+json errors with stable codes, strict JSON bodies, the route table the
// OpenAPI document is checked against, rate limits and request logging. Errors
// are mapped to status codes here and nowhere else.
package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Route is one API operation. The OpenAPI document must list exactly these.
type Route struct {
	Method  string
	Pattern string // net/http pattern path, e.g. /api/portal/{tenant}/requests
	Handler http.HandlerFunc
}

// Mux serves routes. A path no route has answers problem+json 404; a path
// that exists for other methods answers 405 with an Allow header. The matched
// pattern is recorded for the request log (see Logged).
func Mux(routes []Route) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc(rt.Method+" "+rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if p, ok := r.Context().Value(patternKey{}).(*RouteSlot); ok {
				p.Pattern = r.Pattern
			}
			rt.Handler(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			Problem(w, r, privacy.Errorf(privacy.KindMethodNotAllowed, "method-not-allowed", "this endpoint does not support %s", r.Method))
			return
		}
		Problem(w, r, privacy.Errorf(privacy.KindNotFound, "not-found", "no such endpoint"))
	})
}

type patternKey struct{}

// ProblemDetails is an RFC 9457 problem document with a stable machine code.
type ProblemDetails struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
	// Field names the input field at fault, when one is (a 422 on a setting).
	Field string `json:"field,omitempty"`
}

// Status maps a user-facing error kind to its HTTP status.
func Status(k privacy.Kind) int {
	switch k {
	case privacy.KindInvalid:
		return http.StatusBadRequest
	case privacy.KindUnauthorized:
		return http.StatusUnauthorized
	case privacy.KindForbidden:
		return http.StatusForbidden
	case privacy.KindNotFound:
		return http.StatusNotFound
	case privacy.KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case privacy.KindConflict:
		return http.StatusConflict
	case privacy.KindGone:
		return http.StatusGone
	case privacy.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case privacy.KindUnsupported:
		return http.StatusUnsupportedMediaType
	case privacy.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case privacy.KindTooMany:
		return http.StatusTooManyRequests
	case privacy.KindUnavailable:
		return http.StatusServiceUnavailable
	case privacy.KindPreconditionFailed:
		return http.StatusPreconditionFailed
	case privacy.KindPreconditionRequired:
		return http.StatusPreconditionRequired
	case privacy.KindNotImplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// Problem writes err as problem+json. A *privacy.Error keeps its code and message;
// anything else is an internal error: logged with the invocation's logger and
// answered without internals.
func Problem(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemDetails{Type: "about:blank", Status: http.StatusInternalServerError, Code: "internal", Detail: "an internal error occurred; it has been logged"}
	if e, ok := privacy.AsError(err); ok {
		p.Status, p.Code, p.Detail, p.Field = Status(e.Kind), e.Code, e.Message, e.Field
	} else if errors.Is(err, privacy.ErrUnavailable) {
		p.Status, p.Code, p.Detail = http.StatusServiceUnavailable, "unavailable", "a dependency is temporarily unavailable; try again shortly"
	} else {
		Logger(r.Context()).ErrorContext(r.Context(), "internal error", "error", err.Error())
	}
	// Retry-After only where the wait is known (a rate limit's window, a
	// store's throttling hint): a 429 for too many wrong codes ends with a new
	// code, not with time, so it has none.
	var later interface{ RetryAfter() time.Duration }
	if (p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable) &&
		errors.As(err, &later) && later.RetryAfter() > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(later.RetryAfter()))
	}
	writeProblem(w, p)
}

// ProblemContentType is the media type of every error answer, on every host.
const ProblemContentType = "application/problem+json"

// ProblemDocument is the problem+json body a host writes for an answer of its
// own (no function serves the path, a method the function does not take, a
// body over the host's limit, a panic), so that every error of every host has
// the one shape clients parse.
func ProblemDocument(status int, code, detail string) []byte {
	b, _ := json.Marshal(problemOf(status, code, detail))
	return append(b, '\n')
}

// WriteProblem writes ProblemDocument with its headers.
func WriteProblem(w http.ResponseWriter, status int, code, detail string) {
	writeProblem(w, problemOf(status, code, detail))
}

func problemOf(status int, code, detail string) ProblemDetails {
	return ProblemDetails{Type: "urn:privops:problem:" + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

func writeProblem(w http.ResponseWriter, p ProblemDetails) {
	p.Type = "urn:privops:problem:" + p.Code
	p.Title = http.StatusText(p.Status)
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// JSON writes v with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Decode reads a JSON object body into v strictly: at most limit bytes,
// application/json only, exactly one JSON object of UTF-8 text with no
// duplicate keys, no control characters or lone surrogates in its strings (see
// checkStrict), no unknown fields. A request without a body is refused as
// empty-body whatever its Content-Type (see IsEmptyBody).
func Decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	data, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errEmptyBody()
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return privacy.Errorf(privacy.KindUnsupported, "unsupported-media-type", "the body must be application/json")
	}
	if err := checkStrict(data); err != nil {
		return err
	}
	return decodeStrict(bytes.NewReader(data), limit, v)
}

// decodeStrict decodes exactly one JSON object from body into v, refusing
// unknown fields, and maps each failure to its user error.
func decodeStrict(body io.Reader, limit int64, v any) error {
	b, err := io.ReadAll(body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return privacy.Errorf(privacy.KindTooLarge, "body-too-large", "the body must be at most %d bytes", limit)
	} else if err != nil {
		return privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body is not a valid JSON object")
	}
	if err := checkMembers(b, reflect.TypeOf(v), false); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body is not valid JSON")
		case errors.As(err, &typ) && typ.Field == "":
			return privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body must be a JSON object")
		case errors.As(err, &typ):
			return &privacy.Error{Kind: privacy.KindInvalid, Code: "invalid-field", Field: typ.Field,
				Message: fmt.Sprintf("field %q has the wrong type", typ.Field)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return privacy.Errorf(privacy.KindInvalid, "unknown-field", "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body is not a valid JSON object")
	}
	return nil
}

// Created writes 201 with a Location header.
func Created(w http.ResponseWriter, location string, v any) {
	w.Header().Set("Location", location)
	JSON(w, http.StatusCreated, v)
}

// Bearer returns the bearer token of the request, or "".
func Bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Invalid is a shorthand for a 400 with a code.
func Invalid(code, format string, args ...any) error {
	return privacy.Errorf(privacy.KindInvalid, code, format, args...)
}
