// Package azfunc is the Azure Functions custom-handler adapter: an
// http.Handler that the Functions host calls on 127.0.0.1:
// FUNCTIONS_CUSTOMHANDLER_PORT. It turns each invocation into the typed call of
// package trigger and has no side effects of its own besides logging.
//
// It serves three kinds of request:
//
//   - payload mode, POST /<FunctionName> with {"Data":…,"Metadata":…}: every
//     timer and Service Bus invocation, and HTTP invocations when
//     enableForwardingHttpRequest is off. The reply is always
//     application/json; a non-2xx reply fails the invocation on the host.
//   - forwarded HTTP requests (enableForwardingHttpRequest or
//     enableProxyingHttpRequest, HTTP-only functions): the original
//     /api/<route> request, passed to the function's handler as-is.
//   - anything else, including the host's readiness poll on "/": answered at
//     once (200 on "/", 404 elsewhere).
//
// A POST to /<FunctionName> is always taken as payload mode. With the default
// route prefix "api" no forwarded path can look like that; with an empty
// prefix, a forwarded POST to a route equal to a function name would be
// misread, so keep the prefix when forwarding is on.
//
// Logs. In payload mode the function's log records below Warn that carry the
// invocation's context (logger.InfoContext(ctx, …)) are collected by package
// logging and returned in the reply's Logs array, which the host records at
// Information under the invocation (reference §4.1): up to
// logging.MaxCapturedLines lines, the rest to stdout. The host drops Logs of a failed invocation,
// so those lines are written to stdout instead. Warnings and errors go to
// stderr at once. A forwarded HTTP request (enableForwardingHttpRequest, on in
// this suite's host.json) is answered with the function's raw response, which
// has no Logs: its lines go to stdout, recorded by the host as Information but
// outside the invocation.
//
// Failure policy in payload mode (the host treats any non-2xx as a failed
// invocation, see the custom-handler reference §0.2 and §4.4):
//
//   - HTTP: the function's own status, 4xx included, travels in
//     Outputs.<res>.statusCode with 200 to the host. A panic, an unparsable
//     payload or a response that payload mode cannot carry fails the
//     invocation (500); the caller then gets 500.
//   - Queue: nil completes the message (200). An error, a panic, or a payload
//     we cannot parse gives 500, so the host abandons the message and Service
//     Bus redelivers it and finally dead-letters it after MaxDeliveryCount. A
//     payload the host produced that we cannot parse is a bug on our side;
//     redelivery keeps the message, and the dead-letter queue keeps it for
//     replay after the fix, where acknowledging it would lose it.
//   - Timer: an error or a panic gives 500 so the host records the failure; the
//     host does not retry timers, the next occurrence runs on schedule.
package azfunc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

// DefaultMaxBodyBytes bounds a request body (a payload-mode envelope or a
// forwarded HTTP body) and a function's response body. The host accepts up to
// 100 MB; this suite's forms, API calls and messages are far smaller.
const DefaultMaxBodyBytes = 16 << 20

// invocationHeader carries the host's invocation id on every request.
const invocationHeader = "X-Azure-Functions-InvocationId"

// Handler serves the Functions host. It is safe for concurrent use: the host
// sends every invocation of every function to one handler process.
type Handler struct {
	logger  *slog.Logger
	maxBody int64
	now     func() time.Time
	byName  map[string]entry // lower-case function name
	http    []funcjson.Spec  // HTTP functions, for forwarded requests
}

type entry struct {
	spec funcjson.Spec
	fn   trigger.Function
}

// Option configures a Handler.
type Option func(*Handler)

// WithMaxBodyBytes bounds request and response bodies (DefaultMaxBodyBytes
// when n <= 0).
func WithMaxBodyBytes(n int64) Option {
	return func(h *Handler) {
		if n > 0 {
			h.maxBody = n
		}
	}
}

// WithClock sets the clock used for a timer's ScheduledAt when the payload has
// no Metadata.sys.UtcNow (time.Now by default).
func WithClock(now func() time.Time) Option {
	return func(h *Handler) { h.now = now }
}

// New pairs every function with the spec of the same name and returns the
// handler. It fails if a function has no spec or a spec no function, if names
// repeat, or if a function's handler does not match its trigger kind (HTTP for
// an httpTrigger, Queue for a serviceBusTrigger, Timer for a timerTrigger). A
// nil logger discards logs.
func New(funcs []trigger.Function, specs []funcjson.Spec, logger *slog.Logger, opts ...Option) (*Handler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{logger: logger, maxBody: DefaultMaxBodyBytes, now: time.Now, byName: map[string]entry{}}
	for _, o := range opts {
		o(h)
	}
	entries, err := funcjson.Pair(funcs, specs)
	if err != nil {
		return nil, fmt.Errorf("new functions handler: %w", err)
	}
	for _, e := range entries {
		h.byName[strings.ToLower(e.Spec.Name)] = entry{spec: e.Spec, fn: e.Function}
		if e.Spec.Kind == funcjson.KindHTTP {
			h.http = append(h.http, e.Spec)
		}
	}
	return h, nil
}

// ServeHTTP routes a host request: payload mode first, then forwarded HTTP,
// then the readiness answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if e, ok := h.byName[strings.ToLower(name)]; ok && name != "" {
			h.invoke(w, r, e)
			return
		}
	}
	if s, ok := funcjson.MatchRoute(h.http, r.URL.Path); ok {
		h.forward(w, r, h.byName[strings.ToLower(s.Name)])
		return
	}
	if r.URL.Path == "/" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"status":"ready"}`))
		return
	}
	web.WriteProblem(w, http.StatusNotFound, "not-found", "no such endpoint")
}

// ListenAddr returns the address the handler must listen on:
// 127.0.0.1:FUNCTIONS_CUSTOMHANDLER_PORT, or the legacy
// FUNCTIONS_HTTPWORKER_PORT. lookup reads the environment (os.LookupEnv).
func ListenAddr(lookup func(name string) (string, bool)) (string, error) {
	for _, name := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT"} {
		v, ok := lookup(name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		port, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || port < 1 || port > 65535 {
			return "", fmt.Errorf("listen address: %s %q is not a port", name, v)
		}
		// The host connects to 127.0.0.1 only; listening on every interface
		// would expose the handler beside the host.
		return "127.0.0.1:" + strconv.Itoa(port), nil
	}
	return "", errors.New("listen address: FUNCTIONS_CUSTOMHANDLER_PORT is not set (not running under the Functions host)")
}
