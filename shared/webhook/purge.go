package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// PurgeEventType is the "type" of a purge call's body.
const PurgeEventType = "io.privops.retention.purge.v1"

// PurgePayload is the JSON body of a purge call: which retention category to
// delete, up to which cutoff of which event. It names no subject.
type PurgePayload struct {
	SpecVersion string         `json:"specversion"`
	Type        string         `json:"type"`
	PurgeID     string         `json:"purgeId"`
	TenantID    string         `json:"tenantId"`
	PolicyID    string         `json:"policyId"`
	Action      privacy.Action `json:"action"` // always "purge"
	Category    string         `json:"category"`
	From        string         `json:"from"`
	Cutoff      time.Time      `json:"cutoff"` // RFC 3339, UTC, whole seconds
	// DryRun: count what would be purged, delete nothing (a preview).
	DryRun bool `json:"dryRun,omitempty"`
	// Exclusions: the held subjects to spare, as salted hashes.
	Exclusions *PurgeExclusions `json:"exclusions,omitempty"`
}

// PurgeExclusions is the exclusion list of a purge: salt is the standard
// base64 of 32 random bytes, fresh per purge command; hashes are
// hex(HMAC-SHA256(salt bytes, normalised email)), one per held subject,
// sorted. No email is ever sent.
type PurgeExclusions struct {
	Salt   string   `json:"salt"`
	Hashes []string `json:"hashes"`
}

// NewPurgeExclusions is the wire form of x (nil when x is nil).
func NewPurgeExclusions(x *privacy.PurgeExclusions) *PurgeExclusions {
	if x == nil {
		return nil
	}
	return &PurgeExclusions{Salt: base64.StdEncoding.EncodeToString(x.Salt), Hashes: append([]string{}, x.Hashes...)}
}

// NewPurgePayload returns the body of call. The cutoff is rounded down to
// the second: a service never deletes an item privops would keep.
func NewPurgePayload(call privacy.PurgeCall) PurgePayload {
	return PurgePayload{SpecVersion: SpecVersion, Type: PurgeEventType, PurgeID: call.PurgeID, TenantID: call.TenantID,
		PolicyID: call.PolicyID, Action: privacy.ActionPurge, Category: call.Category, From: call.From,
		Cutoff: call.Cutoff.UTC().Truncate(time.Second), DryRun: call.DryRun, Exclusions: NewPurgeExclusions(call.Exclusions)}
}

// PurgeIdempotencyKey is the Idempotency-Key of every call of one purge.
func PurgeIdempotencyKey(purgeID string) string { return purgeID + "-purge" }

var _ privacy.Purger = (*Connector)(nil)

// Purge POSTs a signed purge call to svc.URL (the same URL, keys, SSRF guard
// and timeout as a task's call; Idempotency-Key <purgeId>-purge on every
// call of the purge) and maps the answer:
//
//	200 {"purged":N[,"kept":M][,"keptByHold":H]}  done: counts only; anything else is malformed-response
//	404, 405, 501                NotSupported: the service has no purge
//	408, 425, 429, 5xx           transient *Error with RetryAfter, as are timeouts and network failures
//	3xx, other                   permanent *Error
//
// Errors are *Error with Action "purge"; their text never holds a body or URL.
func (c *Connector) Purge(parent context.Context, svc *privacy.Service, call privacy.PurgeCall) (privacy.PurgeResult, error) {
	res, err := c.purge(parent, svc, call)
	if err != nil {
		err.Action = privacy.ActionPurge
		return privacy.PurgeResult{}, err
	}
	return res, nil
}

func (c *Connector) purge(parent context.Context, svc *privacy.Service, call privacy.PurgeCall) (privacy.PurgeResult, *Error) {
	if svc == nil || call.PurgeID == "" || call.TenantID == "" || call.Cutoff.IsZero() {
		return privacy.PurgeResult{}, permanent("invalid-call", "a purge needs its service, id, tenant and cutoff")
	}
	body, err := json.Marshal(NewPurgePayload(call))
	if err != nil {
		return privacy.PurgeResult{}, permanent("invalid-call", "encode payload")
	}
	ctx, cancel := context.WithTimeout(parent, c.opts.Timeout)
	defer cancel()
	resp, perr := c.post(ctx, parent, svc, call.AllowPrivate || c.opts.AllowPrivate(call.TenantID), PurgeIdempotencyKey(call.PurgeID), body)
	if perr != nil {
		return privacy.PurgeResult{}, perr
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s == http.StatusOK:
		return purgeCounts(resp.Body, func(err error) *Error { return transportError(parent, c.opts.Timeout, err) })
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed || s == http.StatusNotImplemented:
		return privacy.PurgeResult{NotSupported: true}, nil
	default:
		return privacy.PurgeResult{}, c.statusError(resp)
	}
}

// purgeCounts reads a purge's answer, {"purged":N} with optional "kept":M
// and "keptByHold":H (other members are ignored), at most 64 KiB, counts not
// negative.
func purgeCounts(body io.Reader, classify func(error) *Error) (privacy.PurgeResult, *Error) {
	data, err := io.ReadAll(io.LimitReader(body, maxResultBody+1))
	if err != nil {
		return privacy.PurgeResult{}, classify(err)
	}
	if len(data) > maxResultBody {
		return privacy.PurgeResult{}, permanent("response-too-large", "response too large")
	}
	var v struct {
		Purged *int64 `json:"purged"`
		Kept   *int64 `json:"kept"`
		Held   *int64 `json:"keptByHold"`
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || json.Unmarshal(data, &v) != nil || v.Purged == nil || *v.Purged < 0 || v.Kept != nil && *v.Kept < 0 || v.Held != nil && *v.Held < 0 {
		return privacy.PurgeResult{}, permanent("malformed-response", "a purge answers {\"purged\":N}")
	}
	res := privacy.PurgeResult{Purged: *v.Purged}
	if v.Kept != nil {
		res.Kept = *v.Kept
	}
	if v.Held != nil {
		res.KeptByHold = *v.Held
	}
	return res, nil
}
