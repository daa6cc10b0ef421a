package dsr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// PackageLink is what the subject (status read with the request token) and
// admins see of a request's export package: the signed download link while it
// is valid, and when it expires. Once it has expired only the expiry shows,
// and an admin can reissue it.
type PackageLink struct {
	URL       string    `json:"url,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	Expired   bool      `json:"expired,omitempty"`
	Bytes     int64     `json:"bytes"`
}

// PackageLinkOf returns r's current download link, or nil before a package exists.
func (s *Service) PackageLinkOf(r *privacy.Request) *PackageLink {
	if r.Package == nil {
		return nil
	}
	l := &PackageLink{ExpiresAt: r.Package.ExpiresAt.Truncate(time.Second), Bytes: r.Package.Bytes}
	if s.now().Before(r.Package.ExpiresAt) {
		l.URL = s.DownloadLink(r)
	} else {
		l.Expired = true
	}
	return l
}

// ReissueLink gives a request's export package a fresh link, valid for the
// tenant's exportLinkDays from now, audits it and mails it to the subject. A link's signature covers
// its expiry and a download must name the stored one, so every earlier link
// stops working at once: reissuing also revokes a link that leaked. Refused
// before a package exists (409 no-package) and once its blob is gone (410
// package-removed).
func (s *Service) ReissueLink(ctx context.Context, tenantID, id string, actor Actor) (*PackageLink, error) {
	t, r, err := s.load(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if r.Package == nil {
		return nil, privacy.Errorf(privacy.KindConflict, "no-package", "the request has no export package")
	}
	rc, _, err := s.d.Blobs.Open(ctx, r.Package.Blob)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, privacy.Errorf(privacy.KindGone, "package-removed", "the export package has been removed")
	}
	if err != nil {
		return nil, fmt.Errorf("open package: %w", err)
	}
	rc.Close()
	blob := r.Package.Blob
	r, err = s.update(ctx, r, func(r *privacy.Request) error {
		if r.Package == nil || r.Package.Blob != blob {
			return privacy.Errorf(privacy.KindConflict, "package-changed", "the export package changed meanwhile; read the request again")
		}
		now := s.now()
		r.Package.ExpiresAt = now.Add(t.LinkTTL()).Truncate(time.Second)
		s.audit(r, now, actor.String(), "export.link-reissued", map[string]string{"expiresAt": r.Package.ExpiresAt.Format(time.RFC3339)})
		return s.notice(r, now, privacy.NoticeLinkReissued)
	})
	if err != nil {
		return nil, err
	}
	s.flushQuietly(ctx, r)
	return s.PackageLinkOf(r), nil
}
