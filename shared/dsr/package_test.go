package dsr_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/export"
	"github.com/privops/privops/shared/privacy"
)

// exportDone runs an access request against crm and billing to its package.
func exportDone(t *testing.T, billing step) (*taskFixture, *privacy.Request) {
	t.Helper()
	f := newTaskFixture(t)
	f.addServices(t,
		webhook("crm", []privacy.Action{privacy.ActionExport}, privacy.CategoryProfile),
		webhook("billing", []privacy.Action{privacy.ActionExport}, privacy.CategoryBilling))
	f.conn.on("billing", privacy.ActionExport, billing)
	r := f.untilSettled(t, f.approved(t, privacy.TypeAccess).ID)
	return f, r
}

// linkParts returns the expires and sig of a download link.
func linkParts(t *testing.T, link string) (expires, sig string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("expires"), u.Query().Get("sig")
}

// unzip reads a package and returns its files by name.
func unzip(t *testing.T, rc io.ReadCloser) map[string][]byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, zf := range zr.File {
		r, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[zf.Name], _ = io.ReadAll(r)
		r.Close()
	}
	return files
}

func TestExportPackage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		billing       step
		wantStatus    privacy.Status
		wantFiles     []string // service files in the zip
		wantManifest  []export.ServiceEntry
		wantTaskLines []taskLine
	}{
		{
			name: "every service exported", billing: done, wantStatus: privacy.StatusCompleted,
			wantFiles: []string{"services/billing.json", "services/crm.json"},
			wantManifest: []export.ServiceEntry{
				{ID: "billing", Name: "Billing", Items: 2, Files: []string{"services/billing.json", "services/billing.csv"}},
				{ID: "crm", Name: "Crm", Items: 2, Files: []string{"services/crm.json", "services/crm.csv"}},
			},
		},
		{
			name: "a failed service is listed with its reason", billing: permanent, wantStatus: privacy.StatusPartiallyCompleted,
			wantFiles: []string{"services/crm.json"},
			wantManifest: []export.ServiceEntry{
				{ID: "billing", Name: "Billing", Files: []string{}, Note: "failed: the service refused the call: account locked"},
				{ID: "crm", Name: "Crm", Items: 2, Files: []string{"services/crm.json", "services/crm.csv"}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, r := exportDone(t, tc.billing)
			if r.Status != tc.wantStatus || r.Package == nil {
				t.Fatalf("status %s, package %+v", r.Status, r.Package)
			}
			if _, _, err := f.blobs.Open(ctx, r.Package.Blob); err != nil {
				t.Fatalf("package blob: %v", err)
			}
			if want := f.clock.Now().Add(7 * 24 * time.Hour); !r.Package.ExpiresAt.Equal(want) {
				t.Errorf("link expires %v, want %v", r.Package.ExpiresAt, want)
			}
			f.notices(t)
			link := f.svc.DownloadLink(r)
			mails := f.mail.Mails()
			if !strings.HasPrefix(link, publicURL+"/api/portal/acme/requests/"+r.ID+"/package?") ||
				!strings.Contains(mails[len(mails)-1].Text, link) {
				t.Errorf("the completion mail lacks the link %s:\n%s", link, mails[len(mails)-1].Text)
			}

			expires, sig := linkParts(t, link)
			rc, n, err := f.svc.Download(ctx, "acme", r.ID, expires, sig)
			if err != nil {
				t.Fatal(err)
			}
			files := unzip(t, rc)
			if n != r.Package.Bytes {
				t.Errorf("download of %d bytes, package of %d", n, r.Package.Bytes)
			}
			for _, name := range append([]string{export.ManifestPath}, tc.wantFiles...) {
				if _, ok := files[name]; !ok {
					t.Errorf("the package lacks %s", name)
				}
			}
			var m export.Manifest
			if err := json.Unmarshal(files[export.ManifestPath], &m); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantManifest, m.Services); diff != "" {
				t.Errorf("manifest services (-want +got):\n%s", diff)
			}
			audit := f.countAudit(t)
			if audit["export.packaged"] != 1 || audit["export.downloaded"] != 1 {
				t.Errorf("audit %v: want one export.packaged and one export.downloaded", audit)
			}

			// A redelivered package message keeps the package.
			r = f.get(t, r.ID)
			data := privacy.TaskData{RequestID: r.ID}
			ev, _ := privacy.NewEvent("pkg-again", privacy.EventPackage, "acme", "request/"+r.ID, f.clock.Now(), data)
			if err := f.svc.BuildPackage(ctx, ev, data); err != nil {
				t.Fatal(err)
			}
			if got := f.get(t, r.ID); got.ETag != r.ETag {
				t.Error("a redelivered package message changed the request")
			}
		})
	}
}

func TestDownloadLinkChecks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		tamper   func(f *taskFixture, tenant, id, expires, sig *string)
		wantCode string
		wantKind privacy.Kind
	}{
		{"a tampered signature", func(_ *taskFixture, _, _, _, sig *string) { *sig = flip(*sig) }, "unknown-request", privacy.KindNotFound},
		{"a stretched expiry", func(_ *taskFixture, _, _, exp, _ *string) { *exp += "0" }, "unknown-request", privacy.KindNotFound},
		{"another tenant", func(_ *taskFixture, tenant, _, _, _ *string) { *tenant = "globex" }, "unknown-request", privacy.KindNotFound},
		{"an expired link", func(f *taskFixture, _, _, _, _ *string) { f.clock.Add(7*24*time.Hour + time.Second) }, "link-expired", privacy.KindGone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, r := exportDone(t, done)
			tenant, id := "acme", r.ID
			expires, sig := linkParts(t, f.svc.DownloadLink(r))
			tc.tamper(f, &tenant, &id, &expires, &sig)
			before := f.countAudit(t)
			_, _, err := f.svc.Download(ctx, tenant, id, expires, sig)
			if c, kind := userCode(err); c != tc.wantCode || kind != tc.wantKind {
				t.Errorf("got %v, want %s", err, tc.wantCode)
			}
			if diff := cmp.Diff(before, f.countAudit(t)); diff != "" {
				t.Errorf("a refused download was audited (-want +got):\n%s", diff)
			}
		})
	}
}

// flip changes the last character of a signature.
func flip(s string) string {
	b := []byte(s)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

func TestExportRetryBuildsANewPackage(t *testing.T) {
	t.Parallel()
	f, r := exportDone(t, transient)
	if r.Status != privacy.StatusPartiallyCompleted {
		t.Fatalf("status %s", r.Status)
	}
	first := r.Package.Blob
	f.conn.on("billing", privacy.ActionExport, done)
	if _, err := f.svc.RetryTasks(ctx, "acme", r.ID, r.ID+".billing.export", dsr.Actor{Admin: admin}); err != nil {
		t.Fatal(err)
	}
	r = f.untilSettled(t, r.ID)
	if r.Status != privacy.StatusCompleted || r.Package == nil || r.Package.Blob == first {
		t.Fatalf("status %s, package %+v (first %s)", r.Status, r.Package, first)
	}
	if got := f.countAudit(t)["export.packaged"]; got != 2 {
		t.Errorf("%d packages, want one per round", got)
	}
	expires, sig := linkParts(t, f.svc.DownloadLink(r))
	rc, _, err := f.svc.Download(ctx, "acme", r.ID, expires, sig)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for name := range unzip(t, rc) {
		names = append(names, name)
	}
	if !slices.Contains(names, "services/billing.json") {
		t.Errorf("the new package lacks the retried service: %v", names)
	}
}

// A package recorded while another write lands on the request completes it
// once: one packaged and one completed entry, one completion mail.
func TestPackageRecordedUnderAConcurrentWrite(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.addServices(t, webhook("crm", []privacy.Action{privacy.ActionExport}, privacy.CategoryProfile))
	r := f.approved(t, privacy.TypeAccess)
	f.writeBetween(t, "package-stored", r.ID) // another writer lands at that step
	f.drain(t)
	f.setStep(nil)
	if got := f.get(t, r.ID); got.Status != privacy.StatusCompleted || len(got.Outbox) != 0 {
		t.Errorf("status %s with %d outbox events left", got.Status, len(got.Outbox))
	}
	f.clock.Add(2 * time.Minute)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	audit := f.countAudit(t)
	if audit["export.packaged"] != 1 || audit["request.completed"] != 1 {
		t.Errorf("audit %v: want one package and one completion", audit)
	}
	if diff := cmp.Diff(map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticeCompleted: 1}, f.countNotices(t)); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}
