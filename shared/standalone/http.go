package standalone

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/web"
)

// server builds the HTTP server. Request contexts derive from workCtx, so a
// shutdown lets in-flight requests finish instead of cancelling them.
func (h *Host) server(https []funcjson.Paired, workCtx context.Context) *http.Server {
	rt := &router{logger: h.Logger, maxBody: h.MaxBodyBytes, handlers: map[string]http.Handler{},
		ready: h.Ready, readyTimeout: h.ReadyTimeout, index: h.Index}
	for _, p := range https {
		rt.specs = append(rt.specs, p.Spec)
		rt.handlers[p.Spec.Name] = p.Function.HTTP
	}
	return &http.Server{
		Handler:           rt,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// The Functions host cuts HTTP responses at 230 s; match it.
		WriteTimeout:   230 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return workCtx },
		ErrorLog:       slog.NewLogLogger(h.Logger.Handler(), slog.LevelWarn),
	}
}

// router sends a request to the HTTP function whose route prefix matches its
// path (the longest), as the Functions host routes /api/<route>.
type router struct {
	specs    []funcjson.Spec
	handlers map[string]http.Handler
	logger   *slog.Logger
	maxBody  int64

	index        http.Handler
	ready        func(context.Context) error
	readyTimeout time.Duration
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.serveHealth(w, r) {
		return
	}
	if r.URL.Path == "/" && rt.index != nil {
		rt.index.ServeHTTP(w, r)
		return
	}
	s, ok := funcjson.MatchRoute(rt.specs, r.URL.Path)
	if !ok {
		web.WriteProblem(w, http.StatusNotFound, "not-found", "no such endpoint")
		return
	}
	if !s.AllowsMethod(r.Method) {
		w.Header().Set("Allow", strings.Join(s.Methods, ", "))
		web.WriteProblem(w, http.StatusMethodNotAllowed, "method-not-allowed", "this endpoint does not support "+r.Method)
		return
	}
	start := time.Now()
	ctx, id := invocation(r.Context(), s.Name)
	// Never log the path, query or headers: they carry tokens and the function key.
	log := rt.logger.With("function", s.Name, "invocation_id", id)
	r = r.WithContext(ctx)
	r.Body = http.MaxBytesReader(w, r.Body, rt.maxBody)

	tw := web.Track(w)
	if err := serveSafely(rt.handlers[s.Name], tw, r); err != nil {
		log.Error("http function panicked", "error", err)
		if !tw.Wrote() {
			web.WriteProblem(w, http.StatusInternalServerError, "internal", "an internal error occurred; it has been logged")
		}
		return
	}
	log.Debug("http request served", "method", r.Method, "status", statusOr200(tw.Status()),
		"duration_ms", time.Since(start).Milliseconds())
}

// serveSafely runs an HTTP handler and turns a panic into an error.
func serveSafely(hd http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	hd.ServeHTTP(w, r)
	return nil
}

// callSafely runs a queue or timer function and turns a panic into an error.
func callSafely(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return f()
}

func statusOr200(status int) int {
	if status == 0 {
		return http.StatusOK
	}
	return status
}
