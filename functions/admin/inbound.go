package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// KeyView is one of the tenant's inbound signing keys. Secret is set only in
// the answer that created the key: it is never shown again.
type KeyView struct {
	ID        string `json:"id"`
	CreatedAt string `json:"createdAt"`
	Secret    string `json:"secret,omitempty"` // base64
}

// InboundView is one message received from the tenant's systems: what it was
// and what became of it, without its body.
type InboundView struct {
	ID         string `json:"id"`
	EventID    string `json:"eventId,omitempty"`
	MessageID  string `json:"messageId,omitempty"`
	Type       string `json:"type,omitempty"`
	Source     string `json:"source,omitempty"`
	Status     string `json:"status"`
	Code       string `json:"code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	RequestID  string `json:"requestId,omitempty"`
	ReceivedAt string `json:"receivedAt"`
}

func (a *Admin) listInboundKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.svc.InboundKeys(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Keys []KeyView `json:"keys"`
	}{Keys: []KeyView{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, KeyView{ID: k.ID, CreatedAt: k.CreatedAt.Format(time.RFC3339)})
	}
	web.JSON(w, http.StatusOK, out)
}

func (a *Admin) createInboundKey(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	k, err := a.svc.CreateInboundKey(r.Context(), r.PathValue("tenant"), actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	web.Created(w, "/api/admin/"+r.PathValue("tenant")+"/inbound-keys/"+k.ID,
		KeyView{ID: k.ID, CreatedAt: k.CreatedAt.Format(time.RFC3339), Secret: k.Value})
}

func (a *Admin) deleteInboundKey(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteInboundKey(r.Context(), r.PathValue("tenant"), r.PathValue("key"), actor(r)); err != nil {
		web.Problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Admin) listInbound(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := privacy.InboundFilter{Status: privacy.InboundStatus(q.Get("status")), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			web.Problem(w, r, web.Invalid("invalid-limit", "limit must be between 1 and 100"))
			return
		}
		f.Limit = n
	}
	page, err := a.svc.ListInbound(r.Context(), r.PathValue("tenant"), f)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Messages []InboundView `json:"messages"`
		Next     string        `json:"next,omitempty"`
	}{Messages: make([]InboundView, 0, len(page.Records)), Next: page.Next}
	for _, m := range page.Records {
		out.Messages = append(out.Messages, InboundView{ID: m.ID, EventID: m.EventID, MessageID: m.MessageID, Type: m.Type,
			Source: m.Source, Status: string(m.Status), Code: m.Code, Reason: m.Reason, RequestID: m.RequestID,
			ReceivedAt: m.ReceivedAt.Format(time.RFC3339)})
	}
	web.JSON(w, http.StatusOK, out)
}
