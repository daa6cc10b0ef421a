// Package standalone is the one-machine host: it runs the same functions and
// the same function.json files as the Azure Functions host, without it. It
// serves HTTP functions at /api/<route> on its own HTTP server (with /healthz
// and /readyz beside them), runs each timer
// function on its NCRONTAB schedule (UTC), and consumes each queue function's
// queue from the built-in queue (privacy.Receiver). Its side effects are the
// listening socket and the settling of queue messages.
//
// Differences from the Functions host, by design:
//   - Timer schedules are not persisted: occurrences missed while the process
//     was down are not run on start; occurrences missed while it ran (a
//     suspended machine, a run that overran) are collapsed into one late run
//     with IsPastDue.
//   - A queue function runs under a deadline of FunctionTimeout (host.json's
//     functionTimeout, 10 minutes) while the host renews its message's lease
//     every Lease/3, as the Functions host renews a Service Bus lock up to
//     maxAutoLockRenewalDuration (also 10 minutes). A run whose lease is lost
//     anyway (a renewal came too late) is cancelled; its message is
//     delivered again, which idempotent handlers absorb.
//   - A message is dead-lettered after MaxDeliveryCount deliveries, as Service
//     Bus does (default 10).
package standalone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// Defaults for the zero values of Host.
const (
	DefaultAddr             = "127.0.0.1:7071" // the Functions host's local port
	DefaultLease            = 5 * time.Minute  // Service Bus's maximum lock duration
	DefaultFunctionTimeout  = 10 * time.Minute // host.json's functionTimeout
	DefaultWorkers          = 4
	DefaultPollInterval     = time.Second
	DefaultMaxDeliveryCount = 10 // Service Bus's default MaxDeliveryCount
	DefaultMaxBodyBytes     = 16 << 20
	DefaultShutdownTimeout  = 30 * time.Second
)

// Host runs functions on one machine. Set the fields, then call Run once.
type Host struct {
	// Addr is the HTTP listen address (DefaultAddr). Ignored when Listener is set.
	Addr string
	// Listener, when set, is served instead of listening on Addr; callers that
	// need the actual address (tests with ":0") make it themselves. Run closes it.
	Listener net.Listener

	Functions []trigger.Function
	Specs     []funcjson.Spec // paired with Functions by name (funcjson.Pair)

	// Receiver is the built-in queue; required when a queue function exists.
	Receiver privacy.Receiver
	// Lease is how long a received message stays invisible; the host renews
	// it every Lease/3 while the message's function runs (DefaultLease).
	Lease time.Duration
	// FunctionTimeout is the deadline of one queue function call
	// (DefaultFunctionTimeout).
	FunctionTimeout time.Duration
	// Workers is the number of concurrent consumers per queue function (DefaultWorkers).
	Workers int
	// PollInterval is the wait after an empty receive (DefaultPollInterval).
	PollInterval time.Duration
	// Backoff is the delay before a failed message is visible again, by the
	// delivery count that failed (DefaultBackoff).
	Backoff func(deliveryCount int) time.Duration
	// MaxDeliveryCount: a message failing on this delivery is dead-lettered
	// (DefaultMaxDeliveryCount).
	MaxDeliveryCount int

	// Index answers GET / (the index page linking the privacy center and
	// the admin console); nil answers 404 there like any unknown path.
	Index http.Handler

	// Ready is the readiness check behind /readyz: typically the store's
	// Ping. Nil makes /readyz answer like /healthz.
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds one readiness check (DefaultReadyTimeout).
	ReadyTimeout time.Duration

	// MaxBodyBytes bounds an HTTP request body (DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// ShutdownTimeout bounds the drain of in-flight work after ctx is cancelled
	// (DefaultShutdownTimeout).
	ShutdownTimeout time.Duration

	Now    func() time.Time // time.Now by default; read in UTC
	Logger *slog.Logger     // discards logs when nil
}

// Run serves until ctx is cancelled, then stops accepting work, drains what is
// in flight for up to ShutdownTimeout, and returns nil. It returns an error at
// once if the functions and specs do not pair, a schedule does not parse, or
// the listener cannot be opened, and returns the server's error if serving
// fails.
func (h *Host) Run(ctx context.Context) error {
	h.defaults()
	pairs, err := funcjson.Pair(h.Functions, h.Specs)
	if err != nil {
		return fmt.Errorf("standalone host: %w", err)
	}
	var timers []scheduled
	var queues, https []funcjson.Paired
	for _, p := range pairs {
		switch p.Spec.Kind {
		case funcjson.KindTimer:
			s, err := ParseSchedule(p.Spec.Schedule)
			if err != nil {
				return fmt.Errorf("standalone host: function %s: %w", p.Spec.Name, err)
			}
			timers = append(timers, scheduled{Paired: p, schedule: s})
		case funcjson.KindQueue:
			queues = append(queues, p)
		case funcjson.KindHTTP:
			https = append(https, p)
		case funcjson.KindDocuments:
			// No change feed here: the embedded store's writers flush their
			// outbox inline (OUTBOX_DISPATCH=inline), so the function idles.
			h.Logger.Info("change-feed function idle on the standalone host", "function", p.Spec.Name)
		}
	}
	if len(queues) > 0 && h.Receiver == nil {
		return errors.New("standalone host: queue functions need a Receiver")
	}
	ln := h.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", h.Addr); err != nil {
			return fmt.Errorf("standalone host: listen: %w", err)
		}
	}

	// runCtx stops new work; workCtx is what in-flight work runs under, and is
	// cancelled only when the drain times out.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	srv := h.server(https, workCtx)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	h.Logger.Info("standalone host started", "addr", ln.Addr().String(),
		"http", len(https), "timers", len(timers), "queues", len(queues))

	var wg sync.WaitGroup
	for _, t := range timers {
		wg.Go(func() { h.runTimer(runCtx, workCtx, t) })
	}
	for _, q := range queues {
		turn := make(chan struct{}, 1)
		turn <- struct{}{} // the polling turn (consume)
		for i := range h.Workers {
			wg.Go(func() { h.consume(runCtx, workCtx, q, i, turn) })
		}
	}

	var failed error
	select {
	case <-runCtx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			failed = fmt.Errorf("standalone host: serve: %w", err)
		}
	}
	stop()
	h.drain(srv, &wg, cancelWork)
	return failed
}

// drain stops the server and waits for in-flight requests, timer runs and
// messages, for up to ShutdownTimeout; then it cancels their context and
// gives them a short grace to return.
func (h *Host) drain(srv *http.Server, wg *sync.WaitGroup, cancelWork context.CancelFunc) {
	start := time.Now()
	deadline, cancel := context.WithTimeout(context.Background(), h.ShutdownTimeout)
	defer cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	if err := srv.Shutdown(deadline); err != nil {
		h.Logger.Warn("http requests still in flight at shutdown timeout; closing", "error", err)
		_ = srv.Close()
	}
	select {
	case <-done:
		h.Logger.Info("standalone host stopped", "drain_ms", time.Since(start).Milliseconds())
		return
	case <-deadline.Done():
	}
	cancelWork()
	select {
	case <-done:
		h.Logger.Warn("in-flight work cancelled at shutdown timeout")
	case <-time.After(time.Second):
		// A function that ignores its context is left behind; its message's
		// lease runs out and it is delivered again.
		h.Logger.Error("in-flight work did not stop after cancellation")
	}
}

func (h *Host) defaults() {
	if h.Addr == "" {
		h.Addr = DefaultAddr
	}
	if h.Lease <= 0 {
		h.Lease = DefaultLease
	}
	if h.FunctionTimeout <= 0 {
		h.FunctionTimeout = DefaultFunctionTimeout
	}
	if h.Workers <= 0 {
		h.Workers = DefaultWorkers
	}
	if h.PollInterval <= 0 {
		h.PollInterval = DefaultPollInterval
	}
	if h.Backoff == nil {
		h.Backoff = DefaultBackoff
	}
	if h.MaxDeliveryCount <= 0 {
		h.MaxDeliveryCount = DefaultMaxDeliveryCount
	}
	if h.MaxBodyBytes <= 0 {
		h.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if h.ReadyTimeout <= 0 {
		h.ReadyTimeout = DefaultReadyTimeout
	}
	if h.ShutdownTimeout <= 0 {
		h.ShutdownTimeout = DefaultShutdownTimeout
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
}

// invocation returns ctx carrying a fresh invocation id for function.
func invocation(ctx context.Context, function string) (context.Context, string) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	return trigger.WithInvocation(ctx, trigger.Invocation{ID: id, Function: function}), id
}

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	return sleepOrWake(ctx, d, nil)
}

// sleepOrWake is sleep that also ends when wake receives (a nil wake never does).
func sleepOrWake(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
		return false
	case <-t.C:
		return true
	}
}
