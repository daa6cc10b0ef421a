// Package callback receives the signed results of webhook services that
// answered a task with 202 (HTTP trigger, route callbacks/{*path}): POST
// /api/callbacks/{tenant}/{request}/{task}, signed with the service's
// callback key (Privops-Signature: t=<unix>,v2=<HMAC-SHA256(callback key, t "." body)>;
// v1 with the secret itself on a legacy service; webhook.CallbackKeys), inside
// the replay window. An export of any size may instead come in signed parts
// and a commit (upload.go). An export result is
// streamed into the blob store while its signature is checked, and kept only
// if it verifies. A callback that lands while its task is still claimed (the
// service posted before the worker recorded its 202) is the task's result. A
// replayed callback for a task that already ended changes nothing. Unknown tenant, request or task: 404; bad signature: 401.
package callback

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
	"github.com/privops/privops/shared/webhook"
)

// Service is what the callback endpoint needs of the request lifecycle.
type Service interface {
	Target(ctx context.Context, tenantID, requestID, taskID string) (*dsr.TaskTarget, error)
	CompleteTask(ctx context.Context, tg *dsr.TaskTarget, res dsr.Result, actor dsr.Actor) (*privacy.Task, error)
}

// Config holds the endpoint's limits.
type Config struct {
	Window         time.Duration // replay window (5 min)
	MaxBody        int64         // a non-export result (64 KiB)
	MaxExportBytes int64         // an export result (2 GiB)
}

// Deps are the endpoint's collaborators.
type Deps struct {
	Service Service
	Blobs   privacy.Blobs
	Now     func() time.Time
}

// Callback serves the callback route.
type Callback struct {
	cfg Config
	d   Deps
}

// New returns the endpoint.
func New(cfg Config, d Deps) *Callback {
	if cfg.Window <= 0 {
		cfg.Window = webhook.DefaultWindow
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.MaxExportBytes <= 0 {
		cfg.MaxExportBytes = webhook.DefaultMaxExportBytes
	}
	return &Callback{cfg: cfg, d: d}
}

// Routes lists the endpoint's operations.
func (c *Callback) Routes() []web.Route {
	return append([]web.Route{{Method: "POST", Pattern: "/api/callbacks/{tenant}/{request}/{task}", Handler: c.receive}}, c.uploadRoutes()...)
}

// Handler returns the http.Handler.
func (c *Callback) Handler() http.Handler { return web.Mux(c.Routes()) }

var errUnknown = privacy.Errorf(privacy.KindNotFound, "unknown-task", "no such task")

func (c *Callback) receive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tg, err := c.d.Service.Target(ctx, r.PathValue("tenant"), r.PathValue("request"), r.PathValue("task"))
	if err != nil {
		if _, ok := privacy.AsError(err); ok {
			err = errUnknown // one answer for an unknown tenant, request or task
		}
		// Anything else (a store outage) is no 404: the service would give up.
		web.Problem(w, r, err)
		return
	}
	if tg.Service == nil || tg.Task.Kind != privacy.KindWebhook {
		web.Problem(w, r, errUnknown)
		return
	}
	secrets, err := webhook.CallbackKeys(tg.Service)
	if err != nil || len(secrets) == 0 {
		web.Problem(w, r, errUnknown)
		return
	}
	header := r.Header.Get(webhook.SignatureHeader)
	now := c.d.Now()
	var res privacy.ConnectorResult
	var taskID string
	var out dsr.Result
	if tg.Task.Action == privacy.ActionExport {
		res, taskID, out, err = c.export(ctx, w, r, tg, header, now, secrets)
	} else {
		body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, c.cfg.MaxBody))
		if rerr != nil {
			web.Problem(w, r, privacy.Errorf(privacy.KindTooLarge, "body-too-large", "a callback body is at most %d bytes", c.cfg.MaxBody))
			return
		}
		// The strict pass comes after the signature: an unsigned body is
		// refused as such, whatever it holds.
		if err = webhook.VerifyWith(header, body, now, c.cfg.Window, secrets...); err == nil {
			if err = web.CheckJSON(body); err == nil {
				res, taskID, err = webhook.ParseResult(body)
			}
		}
	}
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if taskID != tg.Task.ID {
		web.Problem(w, r, privacy.Errorf(privacy.KindInvalid, "task-mismatch", "the body's taskId is not the task of the URL"))
		return
	}
	out.Outcome, out.Items, out.Reason = res.Outcome, res.Items, res.Reason
	task, err := c.d.Service.CompleteTask(ctx, tg, out, dsr.Actor{})
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, struct {
		TaskID string             `json:"taskId"`
		Status privacy.TaskStatus `json:"status"`
	}{task.ID, task.Status})
}

// export streams a signed export result into the blob store: the blob is
// written only if the signature verifies at the end of the stream (a failed
// stream leaves no blob), then parsed from the store to count its items. It
// is kept only for a done result about the URL's task while that task waits
// for it: a task that is not waiting keeps the export it has, so a late or
// replayed callback is checked beside it, never over it, and then dropped.
func (c *Callback) export(ctx context.Context, w http.ResponseWriter, r *http.Request, tg *dsr.TaskTarget, header string,
	now time.Time, secrets []webhook.Key) (privacy.ConnectorResult, string, dsr.Result, error) {
	name := tg.Request.TenantID + "/requests/" + tg.Request.ID + "/services/" + tg.Task.Service + ".callback.json"
	keep := tg.Task.AwaitsAnswer() // also a claimed task: the service may post before its 202 is recorded
	if !keep {
		name = strings.TrimSuffix(name, ".json") + ".late.json"
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := webhook.VerifyStreamWith(header, http.MaxBytesReader(w, r.Body, c.cfg.MaxExportBytes), pw, now, c.cfg.Window, secrets...)
		pw.CloseWithError(err)
	}()
	n, err := c.d.Blobs.Put(ctx, name, pr)
	pr.CloseWithError(errors.New("upload ended"))
	<-done // net/http: the body must not be read once the handler returns
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return privacy.ConnectorResult{}, "", dsr.Result{}, privacy.Errorf(privacy.KindTooLarge, "body-too-large", "an export callback is at most %d bytes", c.cfg.MaxExportBytes)
		}
		if _, ok := privacy.AsError(err); ok {
			return privacy.ConnectorResult{}, "", dsr.Result{}, err
		}
		return privacy.ConnectorResult{}, "", dsr.Result{}, err
	}
	rc, _, err := c.d.Blobs.Open(ctx, name)
	if err != nil {
		return privacy.ConnectorResult{}, "", dsr.Result{}, err
	}
	res, taskID, err := webhook.ParseExport(rc)
	rc.Close()
	if err != nil || res.Outcome != privacy.OutcomeDone || taskID != tg.Task.ID || !keep {
		_ = c.d.Blobs.Delete(ctx, name)
		return res, taskID, dsr.Result{}, err
	}
	return res, taskID, dsr.Result{Blob: name, Bytes: n}, nil
}
