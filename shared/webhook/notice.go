package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Notifier posts breach notices to a tenant's breach webhook
// (shared/breach's Hook port): the JSON body signed like a connector call
// (SignatureHeader, t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>),
// through the same SSRF guard (private addresses only with AllowPrivate),
// without redirects. A 2xx answer is success; anything else is an error
// naming the status, never the URL or the secret.
type Notifier struct {
	public, private *http.Client
	now             func() time.Time
}

// NewNotifier returns a notifier; timeout bounds each call (10 s when <= 0).
func NewNotifier(timeout time.Duration, now func() time.Time) *Notifier {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	pub, priv := newClient(false, nil), newClient(true, nil)
	pub.Timeout, priv.Timeout = timeout, timeout
	return &Notifier{public: pub, private: priv, now: now}
}

// Post sends body to url signed with secret; allowPrivate lets it reach a
// private or loopback address (the tenant's AllowPrivateConnectors).
func (n *Notifier) Post(ctx context.Context, url string, secret, body []byte, allowPrivate bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("breach webhook: the URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(SignatureHeader, Sign(n.now(), body, secret))
	c := n.public
	if allowPrivate {
		c = n.private
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("breach webhook: the call failed")
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("breach webhook: answered %d", res.StatusCode)
	}
	return nil
}
