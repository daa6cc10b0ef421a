package dsr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// TestPackageLinkAndReissue: the current link shows while valid, only its
// expiry after; a reissue gives a fresh link for exportLinkDays, revokes the
// earlier one, and is audited.
func TestPackageLinkAndReissue(t *testing.T) {
	t.Parallel()
	f, r := exportDone(t, done)
	l := f.svc.PackageLinkOf(r)
	if l == nil || l.URL != f.svc.DownloadLink(r) || !l.ExpiresAt.Equal(r.Package.ExpiresAt.Truncate(time.Second)) || l.Expired {
		t.Fatalf("link of a fresh package: %+v", l)
	}
	oldExpires, oldSig := linkParts(t, l.URL)

	f.clock.Add(8 * 24 * time.Hour) // past the 7 days
	if got := f.svc.PackageLinkOf(f.get(t, r.ID)); got.URL != "" || !got.Expired {
		t.Errorf("link after its expiry: %+v, want no URL and expired", got)
	}
	re, err := f.svc.ReissueLink(ctx, "acme", r.ID, dsr.Actor{Admin: admin})
	if err != nil {
		t.Fatal(err)
	}
	wantExp := f.clock.Now().Add(7 * 24 * time.Hour).Truncate(time.Second)
	if re.URL == "" || re.Expired || !re.ExpiresAt.Equal(wantExp) {
		t.Errorf("reissued link %+v, want one valid until %v", re, wantExp)
	}
	if got := f.svc.PackageLinkOf(f.get(t, r.ID)); got.URL != re.URL {
		t.Errorf("the request shows %q, want the reissued link", got.URL)
	}
	expires, sig := linkParts(t, re.URL)
	rc, _, err := f.svc.Download(ctx, "acme", r.ID, expires, sig)
	if err != nil {
		t.Fatalf("download with the reissued link: %v", err)
	}
	rc.Close()
	// The earlier link is past its time anyway; a reissue also revokes one that is not.
	if _, _, err := f.svc.Download(ctx, "acme", r.ID, oldExpires, oldSig); code(err) != "link-expired" {
		t.Errorf("the expired link: %q, want link-expired", code(err))
	}
	f.clock.Add(time.Hour)
	if _, err := f.svc.ReissueLink(ctx, "acme", r.ID, dsr.Actor{Admin: admin}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Download(ctx, "acme", r.ID, expires, sig); code(err) != "unknown-request" {
		t.Errorf("a valid link after a reissue: %q, want unknown-request (revoked)", code(err))
	}
	if n := f.countAudit(t)["export.link-reissued"]; n != 2 {
		t.Errorf("%d export.link-reissued entries, want 2", n)
	}
	f.notices(t)
	mails := f.mail.Mails()
	last := f.svc.PackageLinkOf(f.get(t, r.ID)).URL
	if text := mails[len(mails)-1].Text; !strings.Contains(text, last) || !strings.Contains(text, "Earlier links no longer work") {
		t.Errorf("the last mail does not carry the reissued link %s:\n%s", last, text)
	}
}

func TestReissueLinkRefusals(t *testing.T) {
	t.Parallel()
	t.Run("no package yet", func(t *testing.T) {
		t.Parallel()
		f := newTaskFixture(t)
		r := f.submit(t, privacy.TypeAccess)
		before := f.get(t, r.ID)
		_, err := f.svc.ReissueLink(ctx, "acme", r.ID, dsr.Actor{Admin: admin})
		if code(err) != "no-package" {
			t.Errorf("got %q, want no-package", code(err))
		}
		if diff := cmp.Diff(before.ETag, f.get(t, r.ID).ETag); diff != "" {
			t.Errorf("the request changed (-want +got):\n%s", diff)
		}
	})
	t.Run("package removed", func(t *testing.T) {
		t.Parallel()
		f, r := exportDone(t, done)
		if err := f.blobs.Delete(ctx, r.Package.Blob); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.ReissueLink(ctx, "acme", r.ID, dsr.Actor{Admin: admin})
		if code(err) != "package-removed" {
			t.Errorf("got %q, want package-removed", code(err))
		}
		if n := f.countAudit(t)["export.link-reissued"]; n != 0 {
			t.Errorf("%d reissues audited, want 0", n)
		}
	})
}
