// Package webhook is the signed-webhook connector: for each task of a data
// subject request, the fan-out calls Connector.Run, which POSTs the task to the
// tenant's service as signed JSON and turns the answer into a result (export
// data is streamed into the task's Save). Its only side effects are that
// request and the Save call. It also holds the signature scheme (SignWith,
// VerifyWith, VerifyStreamWith; the signing versions and the per-direction keys
// derived from a service's secret are in keys.go: CallKeys, CallbackKeys),
// the parsers (ParseResult, ParseExport) that the callback endpoint uses when a
// service answers 202 and reports later, and the signed export upload in parts
// (upload.go: PartBound, SignPart, VerifyPartWith).
//
// Every call passes an SSRF guard at connect time: a service URL must not reach
// the operator's own network or cloud metadata endpoints, even through a DNS
// name that resolves there (see AddrAllowed). Redirects are never followed,
// since one could lead past the guard, and no proxy is used, since the guard
// would then only see the proxy.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Wire constants of a call.
const (
	SpecVersion       = "1.0"                // payload "specversion"
	EventType         = "io.privops.task.v1" // payload "type"
	IdempotencyHeader = "Idempotency-Key"    // <taskId>-<action>: the same for every retry of a call
	UserAgent         = "privops"
)

// Defaults of Options.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxExportBytes = 2 << 30  // 2 GiB
	DefaultMaxItemBytes   = 64 << 20 // 64 MiB
)

// Bounds of the bodies read whole.
const (
	maxResultBody = 64 << 10 // a 200 answer to anything but export: {"items":N}
	maxHeldBody   = 2 << 10  // a 409 answer: {"reason":"..."}
)

// Payload is the JSON body of a call. It carries the subject's identifiers:
// personal data, sent only to the service that declared it keys its data by
// them, and never logged.
type Payload struct {
	SpecVersion string                `json:"specversion"`
	Type        string                `json:"type"`
	TaskID      string                `json:"taskId"`
	RequestID   string                `json:"requestId"`
	TenantID    string                `json:"tenantId"`
	Action      privacy.Action        `json:"action"`
	Identifiers map[string]string     `json:"identifiers"`
	Categories  []privacy.Category    `json:"categories"`
	Changes     []privacy.FieldChange `json:"changes"`
	Purposes    []string              `json:"purposes"`
	Deadline    time.Time             `json:"deadline,omitzero"` // RFC 3339, UTC, whole seconds
	CallbackURL string                `json:"callbackUrl"`
}

// NewPayload returns the payload of call. Absent lists are sent as [] and
// absent identifiers as {}, so a service always sees the same shape.
func NewPayload(call privacy.ConnectorCall) Payload {
	orEmpty := func(m map[string]string) map[string]string {
		if m == nil {
			return map[string]string{}
		}
		return m
	}
	return Payload{
		SpecVersion: SpecVersion,
		Type:        EventType,
		TaskID:      call.TaskID,
		RequestID:   call.RequestID,
		TenantID:    call.TenantID,
		Action:      call.Action,
		Identifiers: orEmpty(call.Identifiers),
		Categories:  nonNil(call.Categories),
		Changes:     nonNil(call.Changes),
		Purposes:    nonNil(call.Purposes),
		Deadline:    call.Deadline.UTC().Truncate(time.Second),
		CallbackURL: call.CallbackURL,
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Options configure a Connector. Zero values take the defaults.
type Options struct {
	// Timeout bounds one call, from dialling to the last byte of the answer
	// (for an export, the whole stream into Save). Default 30 s.
	Timeout time.Duration
	// MaxExportBytes caps an export answer; a larger one fails the task
	// permanently. Default 2 GiB.
	MaxExportBytes int64
	// MaxItemBytes caps one value of an export (the decoder holds a value
	// whole while counting it). Default 64 MiB.
	MaxItemBytes int64
	// AllowPrivate reports (beside ConnectorCall.AllowPrivate, which the
	// caller sets from the tenant it already holds) whether a tenant lets its connectors reach private
	// and loopback addresses (Tenant.AllowPrivateConnectors), and plain http
	// (for a developer's machine or a service inside the tenant's network).
	// Nil allows no tenant.
	AllowPrivate func(tenantID string) bool
	// Now is the clock for signatures and Retry-After dates. Default time.Now.
	Now func() time.Time
	// TLSConfig, if set, is cloned for the HTTPS connections (tests set
	// RootCAs to trust an httptest server).
	TLSConfig *tls.Config
}

// Connector calls webhook services. It is safe for concurrent use and keeps
// two connection pools: one for tenants restricted to public addresses and one
// for tenants allowed private ones, so a connection never crosses the policy.
type Connector struct {
	opts    Options
	public  *http.Client
	private *http.Client
}

var _ privacy.Connector = (*Connector)(nil)

// New returns a Connector.
func New(opts Options) *Connector {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxExportBytes <= 0 {
		opts.MaxExportBytes = DefaultMaxExportBytes
	}
	if opts.MaxItemBytes <= 0 {
		opts.MaxItemBytes = DefaultMaxItemBytes
	}
	if opts.AllowPrivate == nil {
		opts.AllowPrivate = func(string) bool { return false }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Connector{opts: opts, public: newClient(false, opts.TLSConfig), private: newClient(true, opts.TLSConfig)}
}

// newClient returns a client whose every connection passes the SSRF guard,
// which uses no proxy and which never follows a redirect.
func newClient(allowPrivate bool, tlsConfig *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: guard(allowPrivate)}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if tlsConfig != nil {
		cfg = tlsConfig.Clone()
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // a proxy would dial for us, past the guard
			DialContext:            dialer.DialContext,
			TLSClientConfig:        cfg,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    10 * time.Second,
			MaxIdleConnsPerHost:    8,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run POSTs call to svc.URL and maps the answer to a result:
//
//	200 (or 204)            done; export: the {"items":[...]} body streamed into call.Save and counted;
//	                        lookup: Present; others: optional {"items":N}
//	202                     accepted: the service will post a signed callback to call.CallbackURL
//	404                     no-data (lookup: not Present)
//	409                     held, Reason from {"reason":"..."} or "held by the service"
//	408, 425, 429, 5xx      transient *Error with RetryAfter, as are timeouts and network failures
//	3xx                     permanent: redirects are not followed
//	other                   permanent, naming the status
//
// The call is signed with every secret of svc and carries an Idempotency-Key
// that is the same for each retry, so the service can recognise a repeat. Run
// is idempotent as far as the service honours that key. Errors are *Error.
func (c *Connector) Run(ctx context.Context, svc *privacy.Service, call privacy.ConnectorCall) (privacy.ConnectorResult, error) {
	res, err := c.run(ctx, svc, call)
	if err != nil {
		if slices.Contains(privacy.Actions, call.Action) {
			err.Action = call.Action
		}
		return privacy.ConnectorResult{}, err
	}
	return res, nil
}

func (c *Connector) run(parent context.Context, svc *privacy.Service, call privacy.ConnectorCall) (privacy.ConnectorResult, *Error) {
	if !slices.Contains(privacy.Actions, call.Action) {
		return privacy.ConnectorResult{}, permanent("invalid-call", "unknown action")
	}
	if call.Action == privacy.ActionExport && call.Save == nil {
		return privacy.ConnectorResult{}, permanent("invalid-call", "an export call needs a Save")
	}
	if call.TaskID == "" || call.TenantID == "" {
		return privacy.ConnectorResult{}, permanent("invalid-call", "a call needs its task and tenant ids")
	}
	if svc == nil {
		return privacy.ConnectorResult{}, permanent("invalid-call", "no service")
	}
	body, err := json.Marshal(NewPayload(call))
	if err != nil {
		return privacy.ConnectorResult{}, permanent("invalid-call", "encode payload")
	}
	ctx, cancel := context.WithTimeout(parent, c.opts.Timeout)
	defer cancel()
	resp, perr := c.post(ctx, parent, svc, call.AllowPrivate || c.opts.AllowPrivate(call.TenantID), call.TaskID+"-"+string(call.Action), body)
	if perr != nil {
		return privacy.ConnectorResult{}, perr
	}
	// Closing a body not read to its end drops the connection: a service
	// sending more than we read (or stalling) cannot hold the call up.
	defer resp.Body.Close()
	classify := func(err error) *Error { return transportError(parent, c.opts.Timeout, err) }
	return c.answer(ctx, call, resp, classify)
}

// post sends body to svc signed with its call keys, with the Idempotency-Key
// key, within ctx (the per-call timeout; parent is the caller's context, to
// tell its end from the timeout). The URL is checked first (https, or http
// when private addresses are allowed); the caller closes the answer's body.
func (c *Connector) post(ctx, parent context.Context, svc *privacy.Service, private bool, key string, body []byte) (*http.Response, *Error) {
	u, uerr := checkURL(svc.URL, private)
	if uerr != nil {
		return nil, uerr
	}
	keys, err := CallKeys(svc)
	if err != nil {
		return nil, permanent("no-secret", "service has no usable signing secret")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, permanent("invalid-url", "service url is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(IdempotencyHeader, key)
	req.Header.Set(SignatureHeader, SignWith(c.opts.Now(), body, keys...))

	client := c.public
	if private {
		client = c.private
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, transportError(parent, c.opts.Timeout, err)
	}
	return resp, nil
}

// checkURL parses a service URL: https, or http when private addresses are
// allowed (plain http only makes sense inside a network the tenant trusts),
// with a host and no credentials. Errors never repeat the URL.
func checkURL(raw string, private bool) (*url.URL, *Error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return nil, permanent("invalid-url", "service url is not valid")
	}
	if !privacy.ValidHost(u.Host) {
		// Not a transient DNS failure to retry until the deadline: no
		// resolver will ever answer for it (see privacy.ValidHost).
		return nil, permanent("invalid-url", "service url host is not a dns name or a standard ip address")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && private:
	default:
		return nil, permanent("invalid-url", "service url must use https")
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}
