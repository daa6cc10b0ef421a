package web

import "net/http"

// ResponseTracker wraps a ResponseWriter and remembers whether, and with which
// status, the response was started. Hosts and middleware use it to answer a
// panic only when nothing was written yet, and to log the status.
type ResponseTracker struct {
	http.ResponseWriter
	wrote  bool
	status int
}

// Track wraps w.
func Track(w http.ResponseWriter) *ResponseTracker { return &ResponseTracker{ResponseWriter: w} }

// WriteHeader records the first status.
func (t *ResponseTracker) WriteHeader(code int) {
	if !t.wrote {
		t.wrote, t.status = true, code
	}
	t.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (t *ResponseTracker) Write(b []byte) (int, error) {
	if !t.wrote {
		t.wrote, t.status = true, http.StatusOK
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush).
func (t *ResponseTracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Wrote reports whether the response was started.
func (t *ResponseTracker) Wrote() bool { return t.wrote }

// Status is the status sent, 200 if none was set explicitly, 0 before any write.
func (t *ResponseTracker) Status() int { return t.status }
