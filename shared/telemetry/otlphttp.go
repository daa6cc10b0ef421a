//go:build !privops_nootlp

package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// otlpClient posts OTLP/HTTP (binary protobuf) export requests of one signal
// to a collector. It is ours, not the go.opentelemetry.io/otel/exporters/otlp
// HTTP exporters': those link the gRPC runtime and the collector's gRPC
// services (open-telemetry/opentelemetry-go#2579): about 2 MB and 4.6 ms
// of start-up (README) for code that never runs (issue 16). It reads the standard
// variables the same way:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT            base URL; the signal's path (/v1/traces, /v1/metrics) is appended
//	OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT   full URL of one signal, used as is
//	OTEL_EXPORTER_OTLP[_<SIGNAL>]_HEADERS  key=value,... (values URL-encoded)
//	OTEL_EXPORTER_OTLP[_<SIGNAL>]_TIMEOUT  milliseconds per export, retries included (default 10000)
//	OTEL_EXPORTER_OTLP[_<SIGNAL>]_COMPRESSION      gzip or none
//	OTEL_EXPORTER_OTLP[_<SIGNAL>]_CERTIFICATE      PEM file of the CAs to trust
//	OTEL_EXPORTER_OTLP[_<SIGNAL>]_CLIENT_CERTIFICATE and _CLIENT_KEY  PEM files for mutual TLS
//
// A 429, 502, 503 or 504 answer is retried with exponential backoff (or
// after its Retry-After) until the timeout; any other failure is returned.
type otlpClient struct {
	url     string
	headers http.Header
	timeout time.Duration
	gzip    bool
	http    *http.Client
	// backoff is the first retry's wait; it doubles up to 8 times as long.
	backoff time.Duration
}

// otlpDefaultTimeout is the specification's default export timeout.
const otlpDefaultTimeout = 10 * time.Second

// newOTLPClient reads the configuration of signal ("traces" or "metrics")
// from env (os.Getenv in production).
func newOTLPClient(signal string, env func(string) string) (*otlpClient, error) {
	// get returns the signal's own variable, else the general one.
	get := func(suffix string) (string, string) {
		name := "OTEL_EXPORTER_OTLP_" + strings.ToUpper(signal) + "_" + suffix
		if v := strings.TrimSpace(env(name)); v != "" {
			return v, name
		}
		name = "OTEL_EXPORTER_OTLP_" + suffix
		return strings.TrimSpace(env(name)), name
	}
	c := &otlpClient{timeout: otlpDefaultTimeout, headers: http.Header{}, backoff: time.Second}
	if v := strings.TrimSpace(env("OTEL_EXPORTER_OTLP_" + strings.ToUpper(signal) + "_ENDPOINT")); v != "" {
		c.url = v
	} else if v := strings.TrimSpace(env("OTEL_EXPORTER_OTLP_ENDPOINT")); v != "" {
		c.url = strings.TrimRight(v, "/") + "/v1/" + signal
	} else {
		return nil, errors.New("no OTLP endpoint")
	}
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTLP endpoint %q is not an http(s) URL", c.url)
	}
	if v, name := get("HEADERS"); v != "" {
		for pair := range strings.SplitSeq(v, ",") {
			k, val, ok := strings.Cut(pair, "=")
			k, kerr := url.PathUnescape(strings.TrimSpace(k))
			val, verr := url.PathUnescape(strings.TrimSpace(val))
			if !ok || k == "" || kerr != nil || verr != nil {
				return nil, fmt.Errorf("%s: an entry is not key=value (values URL-encoded)", name) // never the value: it may be a key
			}
			c.headers.Add(k, val)
		}
	}
	if v, name := get("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive number of milliseconds", name, v)
		}
		c.timeout = time.Duration(ms) * time.Millisecond
	}
	switch v, name := get("COMPRESSION"); strings.ToLower(v) {
	case "gzip":
		c.gzip = true
	case "", "none":
	default:
		return nil, fmt.Errorf("%s: %q is neither gzip nor none", name, v)
	}
	tlsCfg, err := otlpTLS(get)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// otlpTLS builds the TLS configuration from the certificate variables; nil
// when none is set (the system's roots).
func otlpTLS(get func(string) (string, string)) (*tls.Config, error) {
	ca, caName := get("CERTIFICATE")
	cert, certName := get("CLIENT_CERTIFICATE")
	key, keyName := get("CLIENT_KEY")
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", caName, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", caName, ca)
		}
	}
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("%s and %s go together", certName, keyName)
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", certName, keyName, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// export posts one encoded request, retrying what the specification says is
// retryable until the timeout.
func (c *otlpClient) export(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.gzip {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(body) // a bytes.Buffer does not fail
		if err := zw.Close(); err != nil {
			return err
		}
		body = zb.Bytes()
	}
	wait := c.backoff
	var last error // the last retryable failure
	for {
		retryAfter, err := c.post(ctx, body)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil && last != nil:
			return fmt.Errorf("OTLP export gave up after %s: %w", c.timeout, last)
		case retryAfter < 0:
			return err
		}
		last = err
		if retryAfter == 0 {
			retryAfter = wait
			wait = min(2*wait, 8*c.backoff)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("OTLP export gave up after %s: %w", c.timeout, last)
		case <-time.After(retryAfter):
		}
	}
}

// post sends body once. A retryable failure returns how long to wait (0: the
// client's backoff); a permanent one returns -1.
func (c *otlpClient) post(ctx context.Context, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if c.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, err
		}
		return 0, err // the collector is not reachable yet: retry
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16)) // a partial success is only logged by collectors
	res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK, http.StatusAccepted, http.StatusNoContent:
		return 0, nil
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		err := fmt.Errorf("OTLP collector answered %s", res.Status)
		if s, perr := strconv.Atoi(res.Header.Get("Retry-After")); perr == nil && s > 0 {
			return time.Duration(s) * time.Second, err
		}
		return 0, err
	}
	return -1, fmt.Errorf("OTLP collector answered %s", res.Status)
}
