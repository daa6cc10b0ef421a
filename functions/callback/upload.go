package callback

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
	"github.com/privops/privops/shared/webhook"
)

// Export uploads in parts (see webhook.MaxPartBytes): a service whose export
// is larger than one request may carry sends it as numbered parts to
// PUT …/{task}/parts/{n}, then POST …/{task}/commit. Parts live in the blob
// store under the task's name until the commit joins them; the task stays
// waiting until a commit succeeds, so an upload that never finishes never
// completes a task (the watch's waiting-task deadline moves it on).

var (
	errNotExport  = privacy.Errorf(privacy.KindConflict, "not-an-export", "only an export task takes an upload")
	errNotWaiting = privacy.Errorf(privacy.KindConflict, "task-not-waiting", "the task is not waiting for a result")
	errBadPart    = privacy.Errorf(privacy.KindInvalid, "invalid-part", "the part number is not 1 to %d", webhook.MaxParts)
	errMismatch   = privacy.Errorf(privacy.KindInvalid, "upload-mismatch", "the joined parts do not match the commit's bytes and sha256")
)

// uploadRoutes are the part and commit operations.
func (c *Callback) uploadRoutes() []web.Route {
	return []web.Route{
		{Method: "PUT", Pattern: "/api/callbacks/{tenant}/{request}/{task}/parts/{n}", Handler: c.part},
		{Method: "POST", Pattern: "/api/callbacks/{tenant}/{request}/{task}/commit", Handler: c.commit},
	}
}

// exportTarget loads the URL's task and its service's secrets; only a webhook
// export task takes an upload.
func (c *Callback) exportTarget(ctx context.Context, r *http.Request) (*dsr.TaskTarget, []webhook.Key, error) {
	tg, err := c.d.Service.Target(ctx, r.PathValue("tenant"), r.PathValue("request"), r.PathValue("task"))
	if err != nil {
		if _, ok := privacy.AsError(err); ok {
			err = errUnknown
		}
		return nil, nil, err
	}
	if tg.Service == nil || tg.Task.Kind != privacy.KindWebhook {
		return nil, nil, errUnknown
	}
	secrets, err := webhook.CallbackKeys(tg.Service)
	if err != nil || len(secrets) == 0 {
		return nil, nil, errUnknown
	}
	if tg.Task.Action != privacy.ActionExport {
		return nil, nil, errNotExport
	}
	return tg, secrets, nil
}

// partsPrefix is where a task's parts are kept until its commit.
func partsPrefix(tg *dsr.TaskTarget) string {
	return tg.Request.TenantID + "/requests/" + tg.Request.ID + "/services/" + tg.Task.Service + ".parts/" + tg.Task.ID + "/"
}

func partName(tg *dsr.TaskTarget, n int) string { return partsPrefix(tg) + fmt.Sprintf("%05d", n) }

// part stores one part, signed for this task and number, replacing an
// earlier copy (a retry). The part is written only if its signature
// verifies at the end of the stream. It answers the part's size and SHA-256.
func (c *Callback) part(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tg, secrets, err := c.exportTarget(ctx, r)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || n > webhook.MaxParts || strconv.Itoa(n) != r.PathValue("n") {
		web.Problem(w, r, errBadPart)
		return
	}
	header, now := r.Header.Get(webhook.SignatureHeader), c.d.Now()
	body := http.MaxBytesReader(w, r.Body, webhook.MaxPartBytes)
	sum := sha256.New()
	var size int64
	if !tg.Task.AwaitsAnswer() { // also a claimed task: the service may upload before its 202 is recorded
		// Check the signature, then say so: nothing is stored for a task that ended.
		if _, err = webhook.VerifyPartWith(header, tg.Task.ID, n, body, io.Discard, now, c.cfg.Window, secrets...); err == nil {
			err = errNotWaiting
		}
	} else {
		size, err = c.streamVerified(ctx, partName(tg, n), func(dst io.Writer) error {
			_, err := webhook.VerifyPartWith(header, tg.Task.ID, n, body, io.MultiWriter(dst, sum), now, c.cfg.Window, secrets...)
			return err
		})
	}
	if err != nil {
		web.Problem(w, r, tooLarge(err, webhook.MaxPartBytes, "an export part"))
		return
	}
	web.JSON(w, http.StatusOK, struct {
		Part   int    `json:"part"`
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}{n, size, hex.EncodeToString(sum.Sum(nil))})
}

// streamVerified stores what write produces under name; the blob is kept
// only if write returns nil (a failed stream aborts the Put, which leaves any
// earlier blob of that name as it was).
func (c *Callback) streamVerified(ctx context.Context, name string, write func(io.Writer) error) (int64, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	n, err := c.d.Blobs.Put(ctx, name, pr)
	pr.CloseWithError(errors.New("upload ended"))
	if werr := <-done; werr != nil { // net/http: the body must not be read once the handler returns
		return n, werr
	}
	return n, err
}

// tooLarge maps a body over its bound to a 413 problem.
func tooLarge(err error, limit int64, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return privacy.Errorf(privacy.KindTooLarge, "body-too-large", "%s is at most %d bytes", what, limit)
	}
	return err
}

// commit joins parts 1..N in order into the task's export blob, checks the
// whole against the commit's size and SHA-256, parses it as an export
// callback body and completes the task. A commit for a task that already
// ended (a retry whose answer was lost) changes nothing and answers the
// task's status. A missing part (409 missing-part) or a mismatch (400
// upload-mismatch) leaves the task waiting and the parts in place.
func (c *Callback) commit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tg, secrets, err := c.exportTarget(ctx, r)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.cfg.MaxBody))
	if err != nil {
		web.Problem(w, r, tooLarge(err, c.cfg.MaxBody, "a commit body"))
		return
	}
	if err := webhook.VerifyWith(r.Header.Get(webhook.SignatureHeader), body, c.d.Now(), c.cfg.Window, secrets...); err != nil {
		web.Problem(w, r, err)
		return
	}
	cm, err := webhook.ParseCommit(body)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if cm.TaskID != tg.Task.ID {
		web.Problem(w, r, privacy.Errorf(privacy.KindInvalid, "task-mismatch", "the body's taskId is not the task of the URL"))
		return
	}
	if cm.Bytes > c.cfg.MaxExportBytes {
		web.Problem(w, r, privacy.Errorf(privacy.KindTooLarge, "body-too-large", "an export is at most %d bytes", c.cfg.MaxExportBytes))
		return
	}
	if !tg.Task.AwaitsAnswer() {
		answerTask(w, tg.Task)
		return
	}
	// Named by its content: a concurrent or repeated commit of the same
	// upload writes the same bytes to the same blob, so no commit can delete
	// or replace an export another one recorded.
	name := tg.Request.TenantID + "/requests/" + tg.Request.ID + "/services/" + tg.Task.Service + ".upload-" + hex.EncodeToString(cm.SHA256[:8]) + ".json"
	sum := sha256.New()
	size, err := c.streamVerified(ctx, name, func(dst io.Writer) error { return c.join(ctx, tg, cm, io.MultiWriter(dst, sum)) })
	if err != nil { // the Put was aborted: nothing was written
		web.Problem(w, r, err)
		return
	}
	if size != cm.Bytes || !equalSum(sum, cm.SHA256) {
		_ = c.d.Blobs.Delete(ctx, name)
		web.Problem(w, r, errMismatch)
		return
	}
	rc, _, err := c.d.Blobs.Open(ctx, name)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	res, taskID, err := webhook.ParseExport(rc)
	rc.Close()
	if err == nil && taskID != tg.Task.ID {
		err = privacy.Errorf(privacy.KindInvalid, "task-mismatch", "the body's taskId is not the task of the URL")
	}
	if err != nil {
		_ = c.d.Blobs.Delete(ctx, name)
		web.Problem(w, r, err)
		return
	}
	out := dsr.Result{Outcome: res.Outcome, Items: res.Items, Reason: res.Reason}
	if res.Outcome == privacy.OutcomeDone {
		out.Blob, out.Bytes = name, size
	} else {
		_ = c.d.Blobs.Delete(ctx, name)
	}
	task, err := c.d.Service.CompleteTask(ctx, tg, out, dsr.Actor{})
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	for i := 1; i <= cm.Parts; i++ {
		_ = c.d.Blobs.Delete(ctx, partName(tg, i)) // best effort: the package's expiry sweeps what is left
	}
	answerTask(w, task)
}

// join copies parts 1..N of the upload, in order, to dst. A part that was
// never uploaded is a 409 missing-part.
func (c *Callback) join(ctx context.Context, tg *dsr.TaskTarget, cm webhook.Commit, dst io.Writer) error {
	var total int64
	for i := 1; i <= cm.Parts; i++ {
		rc, _, err := c.d.Blobs.Open(ctx, partName(tg, i))
		if errors.Is(err, privacy.ErrNotFound) {
			return privacy.Errorf(privacy.KindConflict, "missing-part", "part %d has not been uploaded", i)
		}
		if err != nil {
			return err
		}
		// Never join more than the commit declared: a longer upload is a mismatch.
		n, err := io.Copy(dst, io.LimitReader(rc, cm.Bytes-total+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("join part %d: %w", i, err)
		}
		if total += n; total > cm.Bytes {
			return errMismatch
		}
	}
	return nil
}

func equalSum(h hash.Hash, want []byte) bool {
	return hex.EncodeToString(h.Sum(nil)) == hex.EncodeToString(want)
}

// answerTask answers a task's id and status, as the one-request callback does.
func answerTask(w http.ResponseWriter, task *privacy.Task) {
	web.JSON(w, http.StatusOK, struct {
		TaskID string             `json:"taskId"`
		Status privacy.TaskStatus `json:"status"`
	}{task.ID, task.Status})
}
