package lambdahost

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

// serveHTTP runs the HTTP function whose route matches the request, as the
// standalone host's router does: 404 when no route matches, 405 when the
// function does not take the method. Only a request event that does not
// decode is an invocation error; every other outcome is an HTTP response.
func (h *Host) serveHTTP(ctx context.Context, raw json.RawMessage) (events.APIGatewayV2HTTPResponse, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		err = fmt.Errorf("decode http api event: %w", jsonError(err))
		h.logger.Error("decode http api event", "error", err)
		return events.APIGatewayV2HTTPResponse{}, err
	}
	u := requestURL(&ev)
	s, ok := funcjson.MatchRoute(h.http, u.Path)
	if !ok {
		return errorResponse(http.StatusNotFound, "not-found", "no such endpoint"), nil
	}
	method := strings.ToUpper(ev.RequestContext.HTTP.Method)
	if !s.AllowsMethod(method) {
		res := errorResponse(http.StatusMethodNotAllowed, "method-not-allowed", "this endpoint does not support "+method)
		res.Headers["Allow"] = strings.Join(s.Methods, ", ")
		return res, nil
	}

	start := time.Now()
	id := ev.RequestContext.RequestID
	ctx = trigger.WithInvocation(ctx, trigger.Invocation{ID: id, Function: s.Name})
	// Never log the path, query or headers: they carry tokens and identifiers.
	log := h.logger.With("function", s.Name, "invocation_id", id, "trigger", string(funcjson.KindHTTP))

	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			log.Error("decode http api event", "error", fmt.Errorf("%w: body is marked base64 but is not", errBadEvent))
			return errorResponse(http.StatusInternalServerError, "internal", "an internal error occurred; it has been logged"), nil
		}
		body = b
	}
	if int64(len(body)) > h.maxBody {
		log.Warn("request body too large", "limit_bytes", h.maxBody, "body_bytes", len(body))
		return errorResponse(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the body must be at most %d bytes", h.maxBody)), nil
	}

	req := buildRequest(ctx, &ev, method, u, body)
	rec := web.NewCapture(h.maxBody)
	if err := safeServe(h.byName[strings.ToLower(s.Name)].fn.HTTP, rec, req); err != nil {
		log.Error("http function panicked", "error", err)
		return errorResponse(http.StatusInternalServerError, "internal", "an internal error occurred; it has been logged"), nil
	}
	res, err := response(rec)
	if err != nil {
		log.Error("encode http response", "error", err, "status", rec.Status())
		return errorResponse(http.StatusInternalServerError, "internal", "an internal error occurred; it has been logged"), nil
	}
	log.Debug("http request served", "method", method, "status", res.StatusCode,
		"duration_ms", time.Since(start).Milliseconds())
	return res, nil
}

// requestURL returns the request's path and query. On the execute-api
// endpoint a named stage prefixes rawPath ("/prod/api/portal"); it is removed
// so routes match as on the $default stage. A custom domain's API mapping is
// never in rawPath, and there domainPrefix is not the API id.
func requestURL(ev *events.APIGatewayV2HTTPRequest) *url.URL {
	p := ev.RawPath
	if p == "" {
		p = ev.RequestContext.HTTP.Path
	}
	rc := ev.RequestContext
	if rc.Stage != "" && rc.Stage != "$default" && rc.APIID != "" && rc.DomainPrefix == rc.APIID {
		stage := "/" + rc.Stage
		if p == stage || strings.HasPrefix(p, stage+"/") {
			p = strings.TrimPrefix(p, stage)
		}
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u := &url.URL{Path: p, RawQuery: ev.RawQueryString}
	if dec, err := url.PathUnescape(p); err == nil && dec != p {
		u.Path, u.RawPath = dec, p
	}
	return u
}

// buildRequest shapes the event like a request a Go server receives:
// path-only URL, Host apart, the cookies joined into one Cookie header, the
// caller's address in RemoteAddr.
func buildRequest(ctx context.Context, ev *events.APIGatewayV2HTTPRequest, method string, u *url.URL, body []byte) *http.Request {
	header := http.Header{}
	for k, v := range ev.Headers {
		// HTTP API has already joined repeated headers with commas.
		header[textproto.CanonicalMIMEHeaderKey(k)] = []string{v}
	}
	if len(ev.Cookies) > 0 {
		header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	host := header.Get("Host")
	if host == "" {
		host = ev.RequestContext.DomainName
	}
	header.Del("Host")
	header.Del("Content-Length")

	proto := ev.RequestContext.HTTP.Protocol
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}
	req := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        header,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          host,
		RequestURI:    u.RequestURI(),
	}
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		// host:port as a Go server has it; API Gateway does not pass the port.
		req.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return req.WithContext(ctx)
}

// errorResponse is the suite's problem+json error, as every host writes it.
func errorResponse(status int, code, detail string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: status,
		Headers: map[string]string{"Content-Type": web.ProblemContentType, "Cache-Control": "no-store"},
		Body:    string(web.ProblemDocument(status, code, detail))}
}

// response turns the captured response into the 2.0 response. Format 2.0 has
// one string per header (multiValueHeaders is format 1.0 only): repeated
// values are comma-joined as RFC 9110 §5.3 allows, except Set-Cookie, whose
// values go in Cookies and each become a set-cookie header. The body is
// base64 unless it is UTF-8 text of a textual content type.
func response(c *web.Capture) (events.APIGatewayV2HTTPResponse, error) {
	merged, body, err := c.Result()
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	res := events.APIGatewayV2HTTPResponse{StatusCode: c.Status(), Headers: map[string]string{}}
	for k, v := range merged {
		switch {
		case len(v) == 0:
		case k == "Set-Cookie":
			res.Cookies = append(res.Cookies, v...)
		default:
			res.Headers[k] = strings.Join(v, ", ")
		}
	}
	if len(body) == 0 {
		return res, nil
	}
	ct, ok := res.Headers["Content-Type"]
	if !ok {
		ct = http.DetectContentType(body)
		res.Headers["Content-Type"] = ct
	}
	if utf8.Valid(body) && textual(ct) {
		res.Body = string(body)
	} else {
		res.Body, res.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return res, nil
}

// textual reports whether a content type is text that API Gateway can pass
// as a string: text/*, JSON, XML, JavaScript and form data.
func textual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/ecmascript",
		"application/x-www-form-urlencoded", "application/x-ndjson":
		return true
	}
	return false
}

// safeServe runs an HTTP handler and turns a panic into an error. The response
// is buffered, so even http.ErrAbortHandler can still become a 500.
func safeServe(hd http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanic, p, debug.Stack())
		}
	}()
	hd.ServeHTTP(w, r)
	return nil
}
