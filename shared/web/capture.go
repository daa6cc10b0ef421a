package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/textproto"
)

// Capture is an http.ResponseWriter that keeps a handler's whole response in
// memory, its body bounded: the hosts that answer an invocation with one
// payload (the Functions host in payload mode, the Lambda HTTP API) run the
// handler into a Capture, then translate it into their own response shape.
type Capture struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	limit    int64
	overflow bool
}

// NewCapture returns a Capture that refuses a body past limit bytes.
func NewCapture(limit int64) *Capture { return &Capture{header: http.Header{}, limit: limit} }

// Header returns the response headers the handler sets.
func (c *Capture) Header() http.Header { return c.header }

// WriteHeader records the first final status; informational ones are ignored.
func (c *Capture) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
}

// Write appends to the body, or fails once it would pass the limit.
func (c *Capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if int64(c.body.Len()+len(b)) > c.limit {
		c.overflow = true
		return 0, fmt.Errorf("response body exceeds %d bytes", c.limit)
	}
	return c.body.Write(b)
}

// Status is the status the handler wrote, 200 if it wrote none.
func (c *Capture) Status() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

// Result returns the response's headers, their keys canonical and the
// values of keys that differ only in case merged, without the hop-by-hop
// ones (the host frames the response itself), and its body. It fails if the
// body passed the limit.
func (c *Capture) Result() (http.Header, []byte, error) {
	if c.overflow {
		return nil, nil, fmt.Errorf("response body exceeds %d bytes", c.limit)
	}
	h := http.Header{}
	for k, v := range c.header {
		k = textproto.CanonicalMIMEHeaderKey(k)
		if !hopHeaders[k] {
			h[k] = append(h[k], v...)
		}
	}
	return h, c.body.Bytes(), nil
}

// hopHeaders are left for the host to set: it frames the response itself.
var hopHeaders = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true, "Trailer": true,
}
