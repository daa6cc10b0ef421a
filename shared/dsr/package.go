package dsr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/privops/privops/shared/export"
	"github.com/privops/privops/shared/privacy"
)

// BuildPackage builds a request's export package once all its tasks ended: a
// zip streamed into the blob store (one JSON file per service, CSV for flat
// data, a manifest with item counts and SHA-256s), then completes the request
// in the write that records the package. Idempotent: a package already
// recorded is kept; a rebuild after a crash writes the same blob again.
func (s *Service) BuildPackage(ctx context.Context, ev privacy.Event, data privacy.TaskData) error {
	t, r, err := s.loadForMessage(ctx, ev.TenantID, data.RequestID)
	if err != nil {
		return err
	}
	if r.Package != nil || r.Status != privacy.StatusInProgress || !r.TasksDone() {
		return nil
	}
	now := s.now()
	name := r.TenantID + "/requests/" + r.ID + "/export-" + r.ID + "-" + strconv.Itoa(r.Round) + ".zip"
	var parts []export.Part
	for _, task := range r.Tasks {
		if task.Action != privacy.ActionExport {
			continue
		}
		p := export.Part{Service: task.Service, Name: task.ServiceName}
		switch {
		case task.Status == privacy.TaskDone && task.Blob != "":
			blob := task.Blob
			p.Open = func(ctx context.Context) (io.ReadCloser, error) {
				rc, _, err := s.d.Blobs.Open(ctx, blob)
				return rc, err
			}
		default:
			p.Note = string(task.Status)
			if task.Reason != "" {
				p.Note += ": " + task.Reason
			}
		}
		parts = append(parts, p)
	}
	pr, pw := io.Pipe()
	var m export.Manifest
	done := make(chan error, 1)
	go func() {
		var err error
		m, err = export.Write(ctx, pw, export.Manifest{TenantID: r.TenantID, RequestID: r.ID, CreatedAt: now}, parts, export.Options{})
		pw.CloseWithError(err)
		done <- err
	}()
	n, putErr := s.d.Blobs.Put(ctx, name, pr)
	pr.CloseWithError(errors.New("blob upload ended"))
	if werr := <-done; werr != nil {
		return fmt.Errorf("build package: %w", werr)
	}
	if putErr != nil {
		return fmt.Errorf("store package: %w", putErr)
	}
	s.d.Step("package-stored")
	// Flush the request update wrote, not the stale copy a conflict leaves.
	r, err = s.update(ctx, r, func(r *privacy.Request) error {
		if r.Package != nil || r.Status != privacy.StatusInProgress {
			return errStale
		}
		r.Package = &privacy.Package{Blob: name, Bytes: n, Files: len(m.Files), CreatedAt: now, ExpiresAt: now.Add(t.LinkTTL())}
		s.audit(r, now, "system", "export.packaged", map[string]string{"bytes": strconv.FormatInt(n, 10), "files": strconv.Itoa(len(m.Files))})
		s.complete(r, now)
		return nil
	})
	if errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record package: %w", err)
	}
	s.flushQuietly(ctx, r)
	return nil
}

// DownloadLink is the signed, expiring link to a request's export package.
func (s *Service) DownloadLink(r *privacy.Request) string {
	if r.Package == nil {
		return ""
	}
	exp := strconv.FormatInt(r.Package.ExpiresAt.Unix(), 10)
	q := url.Values{"expires": {exp}, "sig": {s.linkSig(r.TenantID, r.ID, exp)}}
	return s.cfg.PublicURL + "/api/portal/" + r.TenantID + "/requests/" + r.ID + "/package?" + q.Encode()
}

// Download opens a request's export package for a signed link, and audits
// the download. An expired or forged link answers like an unknown request
// (404), or 410 once the link is past its time.
func (s *Service) Download(ctx context.Context, tenantID, id, expires, sig string) (io.ReadCloser, int64, error) {
	unknown := privacy.Errorf(privacy.KindNotFound, "unknown-request", "no such request")
	if !s.checkLinkSig(sig, tenantID, id, expires) {
		return nil, 0, unknown
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return nil, 0, unknown
	}
	if s.now().After(time.Unix(exp, 0)) {
		return nil, 0, privacy.Errorf(privacy.KindGone, "link-expired", "the download link has expired; ask the controller for a new one")
	}
	_, r, err := s.load(ctx, tenantID, id)
	if err != nil {
		return nil, 0, err
	}
	if r.Package == nil || strconv.FormatInt(r.Package.ExpiresAt.Unix(), 10) != expires {
		return nil, 0, unknown
	}
	rc, n, err := s.d.Blobs.Open(ctx, r.Package.Blob)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, 0, privacy.Errorf(privacy.KindGone, "package-removed", "the export package has been removed")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open package: %w", err)
	}
	now := s.now()
	ev := &privacy.AuditEvent{ID: newID("aud_"), TenantID: r.TenantID, At: now, Actor: "subject", Action: "export.downloaded",
		Target: "request/" + r.ID, SubjectHash: r.SubjectHash, Details: map[string]string{"bytes": strconv.FormatInt(n, 10)}}
	if err := s.d.Store.AppendAudit(ctx, ev); err != nil {
		rc.Close()
		return nil, 0, fmt.Errorf("audit download: %w", err) // no unaudited download
	}
	return rc, n, nil
}
