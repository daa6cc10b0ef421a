// Package logging builds the suite's structured logger: log/slog JSON, one
// event per line, counts and ids only. Personal data reaches it only through
// types that redact themselves (privacy.Subject implements slog.LogValuer).
//
// Streams. The Functions host records every stderr line of a custom handler at
// Error (Warning when the line says "warn") and every stdout line at
// Information (custom-handler reference §0.8). So records at Warn and above go
// to stderr and the rest to stdout, in the same JSON shape; standalone and on
// Lambda the split is harmless and lets a shell or a collector tell them apart.
//
// Durations. Every duration is logged as a whole number of milliseconds under
// a key ending in "_ms" (duration_ms for how long a unit of work took,
// retry_in_ms, timeout_ms, ...). The handler enforces it: a time.Duration
// attribute named "timeout" is written as "timeout_ms":30000.
//
// Invocation logs. Inside a context from WithCapture (the Azure Functions
// adapter makes one per payload-mode invocation), records below Warn are
// collected for the invocation response's Logs array instead of stdout, so the
// host files them under the invocation; see Capture.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"
)

// New returns a JSON logger writing every record to w at the named level
// (debug, info, warn, error; default info). Tests use it to read one stream.
func New(w io.Writer, level string) *slog.Logger {
	return Split(w, w, level)
}

// Split returns a JSON logger at the named level writing records below Warn to
// stdout and records at Warn and above to stderr.
func Split(stdout, stderr io.Writer, level string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(level), ReplaceAttr: durationsInMilliseconds}
	h := &handler{opts: opts, out: slog.NewJSONHandler(stdout, opts), stdout: stdout}
	if stderr != stdout {
		h.errRoot = slog.NewJSONHandler(stderr, opts)
	}
	return slog.New(h)
}

func parseLevel(level string) slog.Level {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// durationsInMilliseconds writes a time.Duration as integer milliseconds under
// a key ending in _ms (slog's JSON default is nanoseconds, easy to misread).
func durationsInMilliseconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_ms") {
		key += "_ms"
	}
	return slog.Int64(key, a.Value.Duration().Milliseconds())
}

// handler sends records below Warn to out and the others to the stderr
// handler. The stderr handler is derived only when a warning or error is
// logged: each WithAttrs or WithGroup is remembered as a link to its parent
// and replayed on errRoot then, so the common path pays for one JSON handler
// and one small allocation per With, not two handlers.
type handler struct {
	opts   *slog.HandlerOptions
	out    slog.Handler
	stdout io.Writer // where a Capture spills

	errRoot slog.Handler // nil when both streams are one writer
	err     lazy

	// The derivation: parent.WithAttrs(attrs) or parent.WithGroup(group).
	parent *handler
	attrs  []slog.Attr
	group  string
}

// lazy is the stderr handler of one derived handler, built on first use.
type lazy struct {
	once sync.Once
	h    slog.Handler
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.out.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		if h.errRoot == nil {
			return h.out.Handle(ctx, r)
		}
		h.err.once.Do(func() { h.err.h = h.replay(h.errRoot) })
		return h.err.h.Handle(ctx, r)
	}
	if c, ok := ctx.Value(captureKey{}).(*Capture); ok {
		return c.add(ctx, h, r)
	}
	return h.out.Handle(ctx, r)
}

// replay applies h's derivation, root first, to another root handler.
func (h *handler) replay(root slog.Handler) slog.Handler {
	var chain []*handler
	for d := h; d.parent != nil; d = d.parent {
		chain = append(chain, d)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if d := chain[i]; d.attrs != nil {
			root = root.WithAttrs(d.attrs)
		} else {
			root = root.WithGroup(d.group)
		}
	}
	return root
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &handler{opts: h.opts, out: h.out.WithAttrs(attrs), stdout: h.stdout, errRoot: h.errRoot, parent: h, attrs: attrs}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{opts: h.opts, out: h.out.WithGroup(name), stdout: h.stdout, errRoot: h.errRoot, parent: h, group: name}
}

// Capture limits: the host logs each entry as one Information trace of the
// invocation; a chatty invocation must not grow the response without bound.
const (
	MaxCapturedLines     = 64
	MaxCapturedLineBytes = 2048
)

type captureKey struct{}

// Capture collects the log lines of one invocation below Warn (warnings and
// errors go to stderr at once, which the host records whatever the outcome).
// The lines are the same JSON the stream would get, so they carry no more than
// the logs do: ids and counts, never personal data. At most
// MaxCapturedLines lines of at most MaxCapturedLineBytes are kept; the lines
// past that go to stdout as usual, and a last entry counts them.
type Capture struct {
	mu       sync.Mutex
	lines    []string
	overflow int
	spill    io.Writer
	closed   bool // after Lines or Spill: records go to stdout as usual
}

// WithCapture returns ctx whose log records below Warn are collected in the
// returned Capture instead of written to stdout.
func WithCapture(ctx context.Context) (context.Context, *Capture) {
	c := &Capture{}
	return context.WithValue(ctx, captureKey{}, c), c
}

func (c *Capture) add(ctx context.Context, h *handler, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.spill == nil {
		c.spill = h.stdout
	}
	if !c.closed && len(c.lines) >= MaxCapturedLines {
		c.overflow++
	}
	if c.closed || c.overflow > 0 {
		// The invocation has answered (a goroutine outlived it), or its
		// Logs are full: the line goes to stdout, not lost.
		return h.out.Handle(ctx, r)
	}
	var b strings.Builder
	if err := h.replay(slog.NewJSONHandler(&b, h.opts)).Handle(ctx, r); err != nil {
		return err
	}
	line := strings.TrimSuffix(b.String(), "\n")
	if len(line) > MaxCapturedLineBytes {
		cut := MaxCapturedLineBytes - len("…")
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…"
	}
	c.lines = append(c.lines, line)
	return nil
}

// Lines returns the collected lines (a final one counts those sent to stdout
// instead) and
// closes the capture: later records go to stdout. Never nil, so it encodes
// as []. A nil Capture has no lines.
func (c *Capture) Lines() []string {
	if c == nil {
		return []string{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	out := c.lines
	if out == nil {
		out = []string{}
	}
	if c.overflow > 0 {
		out = append(out, `{"level":"INFO","msg":"invocation log full; further lines on stdout","stdout_lines":`+itoa(c.overflow)+`}`)
	}
	c.lines, c.overflow = nil, 0
	return out
}

// Spill writes the collected lines to stdout and closes the capture: for an
// invocation that fails, whose Logs the host throws away.
func (c *Capture) Spill() {
	if c == nil {
		return
	}
	c.mu.Lock()
	w := c.spill
	c.mu.Unlock()
	if w == nil {
		return
	}
	for _, l := range c.Lines() {
		_, _ = io.WriteString(w, l+"\n")
	}
}

// CaptureFrom returns the Capture of ctx, or nil.
func CaptureFrom(ctx context.Context) *Capture {
	c, _ := ctx.Value(captureKey{}).(*Capture)
	return c
}

func itoa(n int) string {
	return slog.IntValue(n).String()
}
