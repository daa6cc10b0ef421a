package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

type loggerKey struct{}

// WithLogger returns ctx carrying logger.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the invocation's logger from ctx, or the default one.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// Logged logs one line per request: function, route pattern (never the raw path
// or query, which may carry identifiers or the function key), status and
// duration; and puts a logger with the invocation id in the request's context.
// A panic is recovered and answered as an internal error.
func Logged(function string, base *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inv := r.Header.Get("X-Azure-Functions-InvocationId")
		if i, ok := trigger.InvocationFrom(r.Context()); ok && inv == "" {
			inv = i.ID
		}
		l := base.With("function", function)
		if inv != "" {
			l = l.With("invocation_id", inv)
		}
		sw := Track(w)
		ctx, matched := RecordRoute(WithLogger(r.Context(), l))
		r = r.WithContext(ctx)
		defer func() {
			if p := recover(); p != nil {
				l.ErrorContext(r.Context(), "panic in handler", "panic", p)
				if !sw.Wrote() {
					Problem(sw, r, errPanic{})
				}
			}
			route := matched.Pattern
			if route == "" {
				route = r.Pattern // Logged itself registered on a ServeMux
			}
			l.LogAttrs(r.Context(), slog.LevelInfo, "http request",
				slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", sw.Status()), slog.Int64("duration_ms", time.Since(start).Milliseconds()))
		}()
		next.ServeHTTP(sw, r)
	})
}

// RouteSlot holds the route pattern Mux matched for a request ("" until
// then, or when no route matched).
type RouteSlot struct{ Pattern string }

// RecordRoute returns ctx carrying a slot that Mux fills with the matched
// route pattern; read it once the handler returned. Logged and the telemetry
// wrapper around it share one slot: a ctx that has one keeps it.
func RecordRoute(ctx context.Context) (context.Context, *RouteSlot) {
	if s, ok := ctx.Value(patternKey{}).(*RouteSlot); ok {
		return ctx, s
	}
	s := new(RouteSlot)
	return context.WithValue(ctx, patternKey{}, s), s
}

type errPanic struct{}

func (errPanic) Error() string { return "panic" }

// ClientIP returns the caller's address. With trustForwarded (behind the
// Functions front end or one known proxy) the right-most X-Forwarded-For entry
// is used: the one the trusted proxy appended. Entries left of it come from the
// client and could be chosen to dodge rate limits. Otherwise the socket address.
func ClientIP(r *http.Request, trustForwarded bool) string {
	if trustForwarded {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			ip := strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
			if h, _, err := net.SplitHostPort(ip); err == nil {
				ip = h
			}
			if net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Limiter is a fixed-window counter per key: at most Max events per Window.
// It is per process; on Azure each instance limits on its own, which bounds
// abuse per instance (the store-backed attempt counters bound it globally).
type Limiter struct {
	Max    int
	Window time.Duration
	Now    func() time.Time

	mu      sync.Mutex
	windows map[string]*window
	swept   time.Time
}

type window struct {
	start time.Time
	n     int
}

// Allow counts one event for key and reports whether it is within the limit.
func (l *Limiter) Allow(key string) bool {
	ok, _ := l.Take(key)
	return ok
}

// Take counts one event for key and reports whether it is within the limit;
// when it is not, wait is how long until key's window ends and an event is
// allowed again (what Retry-After tells the client).
func (l *Limiter) Take(key string) (ok bool, wait time.Duration) {
	if l.Max <= 0 {
		return true, 0
	}
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.windows == nil {
		l.windows = make(map[string]*window)
	}
	if now.Sub(l.swept) > l.Window {
		for k, w := range l.windows {
			if now.Sub(w.start) >= l.Window {
				delete(l.windows, k)
			}
		}
		l.swept = now
	}
	w, ok := l.windows[key]
	if !ok || now.Sub(w.start) >= l.Window {
		w = &window{start: now}
		l.windows[key] = w
	}
	w.n++
	if w.n <= l.Max {
		return true, 0
	}
	return false, w.start.Add(l.Window).Sub(now)
}

// RetryLater is a 429 or 503 whose wait is known: Problem sends it as
// Retry-After. It unwraps to its *privacy.Error.
type RetryLater struct {
	Err  error
	Wait time.Duration
}

func (e *RetryLater) Error() string { return e.Err.Error() }

// Unwrap returns the error with the code.
func (e *RetryLater) Unwrap() error { return e.Err }

// RetryAfter is the wait.
func (e *RetryLater) RetryAfter() time.Duration { return e.Wait }

// RateLimited is the 429 of a Limiter that refused an event: code
// rate-limited, message msg, Retry-After the limiter's real wait.
func RateLimited(msg string, wait time.Duration) error {
	return &RetryLater{Err: privacy.Errorf(privacy.KindTooMany, "rate-limited", "%s", msg), Wait: wait}
}

// retryAfterSeconds is d as Retry-After delta-seconds, rounded up so a client
// that waits exactly that long is not refused again; at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}
