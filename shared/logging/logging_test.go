package logging

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// decodeLines parses JSON lines, dropping the time attribute.
func decodeLines(tb testing.TB, s string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("not a JSON line: %q: %v", l, err)
		}
		delete(m, "time")
		out = append(out, m)
	}
	return out
}

// TestSplitStreams: debug and info go to stdout, warn and error to stderr,
// each with the attributes and groups of the logger that wrote it.
func TestSplitStreams(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	log := Split(&stdout, &stderr, "debug").With("function", "tasks").WithGroup("g").With("invocation_id", "i-1")
	log.Debug("d", "n", 1)
	log.Info("i", "n", 2)
	log.Warn("w", "n", 3)
	log.Error("e", "n", 4)
	slog.New(log.Handler()).Info("after", "n", 5)

	wantOut := []map[string]any{
		{"level": "DEBUG", "msg": "d", "function": "tasks", "g": map[string]any{"invocation_id": "i-1", "n": 1.0}},
		{"level": "INFO", "msg": "i", "function": "tasks", "g": map[string]any{"invocation_id": "i-1", "n": 2.0}},
		{"level": "INFO", "msg": "after", "function": "tasks", "g": map[string]any{"invocation_id": "i-1", "n": 5.0}},
	}
	wantErr := []map[string]any{
		{"level": "WARN", "msg": "w", "function": "tasks", "g": map[string]any{"invocation_id": "i-1", "n": 3.0}},
		{"level": "ERROR", "msg": "e", "function": "tasks", "g": map[string]any{"invocation_id": "i-1", "n": 4.0}},
	}
	if diff := cmp.Diff(wantOut, decodeLines(t, stdout.String())); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantErr, decodeLines(t, stderr.String())); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

// TestLevels: the level setting filters both streams.
func TestLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level          string
		wantOut, wantE int
	}{
		{"debug", 2, 2}, {"info", 1, 2}, {"", 1, 2}, {"warning", 0, 2}, {"error", 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.level, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			log := Split(&stdout, &stderr, tc.level)
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			if got := len(decodeLines(t, stdout.String())); got != tc.wantOut {
				t.Errorf("stdout lines = %d, want %d", got, tc.wantOut)
			}
			if got := len(decodeLines(t, stderr.String())); got != tc.wantE {
				t.Errorf("stderr lines = %d, want %d", got, tc.wantE)
			}
		})
	}
}

// TestDurationsAreMilliseconds: every time.Duration is written as integer
// milliseconds under a key ending in _ms, in With attributes too.
func TestDurationsAreMilliseconds(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := New(&buf, "info").With("lease", 2*time.Minute)
	log.Info("x", "duration", 1500*time.Millisecond, "retry_in_ms", 3*time.Second,
		slog.Duration("timeout", 30*time.Second), "count", 3)
	want := []map[string]any{{"level": "INFO", "msg": "x", "lease_ms": 120000.0, "duration_ms": 1500.0,
		"retry_in_ms": 3000.0, "timeout_ms": 30000.0, "count": 3.0}}
	if diff := cmp.Diff(want, decodeLines(t, buf.String())); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCapture: inside a captured context, records below Warn are collected
// (with the logger's attributes) instead of written; warnings still go to
// stderr at once; Spill writes the collected lines to stdout.
func TestCapture(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	log := Split(&stdout, &stderr, "info").With("function", "notify")
	ctx, c := WithCapture(t.Context())
	log.InfoContext(ctx, "notice processed", "request_id", "r-1")
	log.DebugContext(ctx, "below the level")
	log.WarnContext(ctx, "notice failed", "error", "smtp 421")
	log.Info("not in the invocation")

	if got := len(decodeLines(t, stderr.String())); got != 1 {
		t.Errorf("stderr lines = %d, want 1 (the warning)", got)
	}
	if diff := cmp.Diff([]map[string]any{{"level": "INFO", "msg": "not in the invocation", "function": "notify"}},
		decodeLines(t, stdout.String())); diff != "" {
		t.Errorf("stdout before Lines (-want +got):\n%s", diff)
	}
	lines := c.Lines()
	want := []map[string]any{{"level": "INFO", "msg": "notice processed", "function": "notify", "request_id": "r-1"}}
	if diff := cmp.Diff(want, decodeLines(t, strings.Join(lines, "\n"))); diff != "" {
		t.Errorf("captured (-want +got):\n%s", diff)
	}
	if got := c.Lines(); len(got) != 0 || got == nil {
		t.Errorf("Lines after Lines = %#v, want an empty, non-nil slice", got)
	}
	log.InfoContext(ctx, "late")
	if got := decodeLines(t, stdout.String()); len(got) != 2 || got[1]["msg"] != "late" {
		t.Errorf("stdout after Lines = %v, want a late record written at once", got)
	}

	ctx, c = WithCapture(t.Context())
	log.InfoContext(ctx, "spilled")
	c.Spill()
	if got := decodeLines(t, stdout.String()); len(got) != 3 || got[2]["msg"] != "spilled" {
		t.Errorf("stdout after Spill = %v, want the spilled line last", got)
	}
	if CaptureFrom(ctx) != c || CaptureFrom(t.Context()) != nil {
		t.Error("CaptureFrom does not return the context's capture")
	}
}

// TestCaptureIsBounded: at most MaxCapturedLines lines of at most
// MaxCapturedLineBytes; the lines past that go to stdout, and a last entry
// counts them.
func TestCaptureIsBounded(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	log := New(&stdout, "info")
	ctx, c := WithCapture(t.Context())
	long := strings.Repeat("é", MaxCapturedLineBytes)
	for range MaxCapturedLines {
		log.InfoContext(ctx, "line", "n", long)
	}
	for i := range 5 {
		log.InfoContext(ctx, "more", "i", i)
	}
	lines := c.Lines()
	if len(lines) != MaxCapturedLines+1 {
		t.Fatalf("lines = %d, want %d", len(lines), MaxCapturedLines+1)
	}
	for i, l := range lines[:MaxCapturedLines] {
		if len(l) > MaxCapturedLineBytes || !strings.HasSuffix(l, "…") {
			t.Fatalf("line %d: %d bytes, suffix %q; want at most %d bytes ending in …", i, len(l), l[len(l)-8:], MaxCapturedLineBytes)
		}
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[MaxCapturedLines]), &last); err != nil || last["stdout_lines"] != 5.0 {
		t.Errorf("last line = %s (%v), want stdout_lines 5", lines[MaxCapturedLines], err)
	}
	var got []any
	for _, l := range decodeLines(t, stdout.String()) {
		got = append(got, l["i"])
	}
	if diff := cmp.Diff([]any{0.0, 1.0, 2.0, 3.0, 4.0}, got); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

// BenchmarkLogger compares one request's logging (a With per invocation and
// one Info line) on slog's JSON handler and on this package's split handler.
func BenchmarkLogger(b *testing.B) {
	for _, bc := range []struct {
		name string
		log  *slog.Logger
	}{
		{"slog-json", slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))},
		{"split", Split(io.Discard, io.Discard, "info")},
		{"split-separate-writers", Split(io.Discard, nopWriter{}, "info")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l := bc.log.With("function", "portal", "invocation_id", "5f3a0c7e-1111-4222-8333-944445555666")
				l.LogAttrs(b.Context(), slog.LevelInfo, "http request", slog.String("method", "POST"),
					slog.String("route", "/api/portal/{tenant}/requests"), slog.Int("status", 201), slog.Int64("duration_ms", 3))
			}
		})
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
