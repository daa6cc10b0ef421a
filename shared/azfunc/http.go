package azfunc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/web"
)

// httpRequestData is Data.<triggerName> of an HTTP trigger (reference §3.3).
type httpRequestData struct {
	URL     string                     `json:"Url"`
	Method  string                     `json:"Method"`
	Headers map[string]json.RawMessage `json:"Headers"`
	Body    json.RawMessage            `json:"Body"`
	// Query, Params and Identities are not read: Url carries the query string
	// (function key included), handlers route on the path, and authentication
	// is the functions' own (bearer JWT), not the host's.
}

// httpOutput is Outputs.<outName> of an http output binding (reference §4.2).
type httpOutput struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// invokeHTTP runs an HTTP function in payload mode. The function's status,
// whatever it is, goes in the output binding with 200 to the host.
func (h *Handler) invokeHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request, e entry, env envelope, log *slog.Logger) bool {
	req, err := buildRequest(ctx, env, e.spec.TriggerName)
	if err != nil {
		log.Error("decode http trigger", "error", err)
		h.fail(w, e)
		return false
	}
	req.RemoteAddr = r.RemoteAddr

	rec := web.NewCapture(h.maxBody)
	if err := safeServe(e.fn.HTTP, rec, req); err != nil {
		log.Error("http function failed", "error", err)
		h.fail(w, e)
		return false
	}
	out, err := output(rec)
	if err != nil {
		log.Error("encode http response", "error", err, "status", rec.Status())
		h.fail(w, e)
		return false
	}
	log.Debug("http function answered", "status", out.StatusCode)
	h.replyHTTP(w, e.spec, out, logging.CaptureFrom(ctx).Lines())
	return true
}

// replyHTTP sends an HTTP function's response to the host, always with 200,
// with the invocation's captured log lines (payload mode only: a forwarded
// request's response is the function's own and has no Logs).
func (h *Handler) replyHTTP(w http.ResponseWriter, s funcjson.Spec, out httpOutput, logs []string) {
	if logs == nil {
		logs = []string{}
	}
	res := result{Outputs: map[string]any{}, Logs: logs}
	if s.OutputName == "$return" {
		res.ReturnValue = out
	} else {
		res.Outputs[s.OutputName] = out
	}
	replyJSON(w, http.StatusOK, res)
}

// buildRequest rebuilds the caller's request from Data.<trigger>.
func buildRequest(ctx context.Context, env envelope, triggerName string) (*http.Request, error) {
	raw, ok := env.data(triggerName)
	if !ok {
		return nil, fmt.Errorf("%w: no Data.%s", errBadPayload, triggerName)
	}
	var d httpRequestData
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%w: Data.%s: %v", errBadPayload, triggerName, err)
	}
	if d.Method == "" || d.URL == "" {
		return nil, fmt.Errorf("%w: Data.%s has no Method or Url", errBadPayload, triggerName)
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		// Not wrapped with err: the URL holds the function key.
		return nil, fmt.Errorf("%w: Data.%s.Url does not parse", errBadPayload, triggerName)
	}
	header := http.Header{}
	for k, v := range d.Headers {
		vals, err := headerValues(v)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		header[textproto.CanonicalMIMEHeaderKey(k)] = vals
	}
	body, err := requestBody(d.Body, header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}

	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(d.Method), d.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: new request", errBadPayload)
	}
	// Shape it like a request a Go server receives: path-only URL, Host apart,
	// Content-Length in ContentLength.
	req.Host = u.Host
	if hv := header.Get("Host"); hv != "" {
		req.Host = hv
	}
	header.Del("Host")
	header.Del("Content-Length")
	req.Header = header
	req.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	req.RequestURI = u.RequestURI()
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	return req, nil
}

// headerValues reads a header value: a string array, or a single string.
func headerValues(raw json.RawMessage) ([]string, error) {
	var vals []string
	if json.Unmarshal(raw, &vals) == nil {
		return vals, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, fmt.Errorf("%w: header value is neither a string nor a string array", errBadPayload)
	}
	return []string{one}, nil
}

// requestBody reads Data.<trigger>.Body: a raw string, base64 for
// application/octet-stream and multipart/*, absent when the request had no
// Content-Length. An older host sent a JSON body as an object: its text is
// taken as-is.
func requestBody(raw json.RawMessage, contentType string) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if t[0] != '"' {
		return t, nil
	}
	var s string
	if err := json.Unmarshal(t, &s); err != nil {
		return nil, fmt.Errorf("%w: Body: %v", errBadPayload, err)
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s Body is not base64", errBadPayload, mt)
		}
		return b, nil
	}
	return []byte(s), nil
}

// output turns the captured response into the http output binding. Payload
// mode carries the body as a JSON string, so a body that is not UTF-8 (a zip
// download) cannot travel: serve such routes with enableForwardingHttpRequest.
func output(c *web.Capture) (httpOutput, error) {
	header, body, err := c.Result()
	if err != nil {
		return httpOutput{}, err
	}
	if !utf8.Valid(body) {
		return httpOutput{}, fmt.Errorf("response body is not UTF-8 and cannot travel in payload mode (enable enableForwardingHttpRequest)")
	}
	out := httpOutput{StatusCode: c.Status(), Headers: map[string]string{}, Body: string(body)}
	for k, v := range header {
		if len(v) > 0 {
			// The host takes one string per header; repeated values are
			// comma-joined as RFC 9110 §5.3 allows (not for Set-Cookie,
			// which this suite does not use).
			out.Headers[k] = strings.Join(v, ", ")
		}
	}
	if _, ok := header["Content-Type"]; !ok && len(body) > 0 {
		out.Headers["Content-Type"] = http.DetectContentType(body)
	}
	return out, nil
}
