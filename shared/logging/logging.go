// Package logging builds the suite's structured logger: log/slog JSON to
// stdout (the Functions host records stderr lines as errors), one event per
// line, counts and ids only. Personal data reaches it only through types that
// redact themselves (privacy.Subject implements slog.LogValuer).
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a JSON logger writing to w at the named level (debug, info,
// warn, error; default info).
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
