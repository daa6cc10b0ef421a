// Package breachack is the signed acknowledgement link of a breach notice
// (HTTP trigger, route breach/{*path}, public, authenticated by the link's
// HMAC): GET /api/breach/ack/{tenant}/{incident}?v=N&sig=… shows what is
// acknowledged and a confirm button, and changes nothing (mail scanners
// open links); POST the same URL records the acknowledgement of version N in
// the tenant's notice (once; again changes nothing) and its audit chain. A
// link that does not verify is 403 bad-ack-link, whatever the notice.
package breachack

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strconv"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/web"
)

// Service is what the function needs of the breach flow.
type Service interface {
	AcknowledgeByLink(ctx context.Context, tenantID, id string, version int, sig string) (*breach.Notice, error)
	CheckAckLink(tenantID, id string, version int, sig string) error
}

// Ack serves the acknowledgement link.
type Ack struct{ svc Service }

// New returns the function.
func New(svc Service) *Ack { return &Ack{svc: svc} }

// Routes lists the function's operations.
func (a *Ack) Routes() []web.Route {
	return []web.Route{
		{Method: "GET", Pattern: "/api/breach/ack/{tenant}/{incident}", Handler: a.show},
		{Method: "POST", Pattern: "/api/breach/ack/{tenant}/{incident}", Handler: a.acknowledge},
	}
}

// Handler returns the http.Handler.
func (a *Ack) Handler() http.Handler { return web.Mux(a.Routes()) }

func params(r *http.Request) (tenant, id string, version int, sig string, err error) {
	q := r.URL.Query()
	version, cerr := strconv.Atoi(q.Get("v"))
	if cerr != nil || version < 1 || q.Get("sig") == "" {
		return "", "", 0, "", web.Invalid("bad-ack-link", "the acknowledgement link is incomplete")
	}
	return r.PathValue("tenant"), r.PathValue("incident"), version, q.Get("sig"), nil
}

func page(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>privops</title></head><body>%s</body></html>\n", body)
}

func (a *Ack) show(w http.ResponseWriter, r *http.Request) {
	tenant, id, v, sig, err := params(r)
	if err == nil {
		err = a.svc.CheckAckLink(tenant, id, v, sig)
	}
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	page(w, http.StatusOK, fmt.Sprintf(`<p>Acknowledge receipt of incident %s, report version %d (tenant %s)?</p>
<p>确认收到安全事件通知？</p><form method="post"><button type="submit">Acknowledge / 确认</button></form>`,
		html.EscapeString(id), v, html.EscapeString(tenant)))
}

func (a *Ack) acknowledge(w http.ResponseWriter, r *http.Request) {
	tenant, id, v, sig, err := params(r)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	n, err := a.svc.AcknowledgeByLink(r.Context(), tenant, id, v, sig)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	page(w, http.StatusOK, fmt.Sprintf("<p>Acknowledged: incident %s, version %d. 已确认。</p>", html.EscapeString(n.IncidentID), n.AckVersion))
}
