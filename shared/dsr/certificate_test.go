package dsr_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/certificate"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// erased runs an erase request against crm and billing to its end.
func erased(t *testing.T) (*taskFixture, *privacy.Request) {
	t.Helper()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile), webhook("billing", eraseActions, privacy.CategoryBilling))
	r := f.untilSettled(t, f.approved(t, privacy.TypeErase).ID)
	if r.Status != privacy.StatusCompleted {
		t.Fatalf("status %s", r.Status)
	}
	return f, r
}

func publishedKeys(f *taskFixture) map[string]ed25519.PublicKey {
	k := f.svc.CertificateKey()
	return map[string]ed25519.PublicKey{certificate.KeyID(k): k}
}

// TestCertificateIssuedOnceAtCompletion: the completing write stores the
// sealed certificate; every later read, at any time, returns those bytes;
// they verify with the published key and carry the outcome as completed.
func TestCertificateIssuedOnceAtCompletion(t *testing.T) {
	t.Parallel()
	f, r := erased(t)
	if r.Certificate == "" {
		t.Fatal("the completed request stores no certificate")
	}
	completedAt := f.clock.Now()
	var reads [][]byte
	for range 3 {
		f.clock.Add(36 * time.Hour)
		doc, c, err := f.svc.Certificate(ctx, "acme", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !c.IssuedAt.Equal(completedAt) {
			t.Errorf("issued at %v, want the completion %v", c.IssuedAt, completedAt)
		}
		reads = append(reads, doc)
	}
	for i, doc := range reads {
		if !bytes.Equal(doc, []byte(r.Certificate)) {
			t.Errorf("read %d differs from the bytes stored at completion", i+1)
		}
	}
	payload, err := certificate.Open(reads[0], publishedKeys(f))
	if err != nil {
		t.Fatalf("the certificate does not verify with the published key: %v", err)
	}
	var c dsr.Certificate
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range c.Services {
		got[l.Service+"/"+l.Action] = l.Status
	}
	if diff := cmp.Diff(map[string]string{"crm/erase": "done", "billing/erase": "done"}, got); diff != "" || c.Status != "completed" || c.RequestID != r.ID {
		t.Errorf("certificate %s %s, services (-want +got):\n%s", c.RequestID, c.Status, diff)
	}
	if n := f.countAudit(t)["certificate.issued"]; n != 0 {
		t.Errorf("%d certificate.issued entries: the completion entry names the key", n)
	}
}

// TestCertificateOfARequestCompletedBefore: a request completed before
// certificates were stored gets one on its first read, stored and audited
// once; later reads return the same bytes.
func TestCertificateOfARequestCompletedBefore(t *testing.T) {
	t.Parallel()
	f, r := erased(t)
	stored, err := f.store.GetRequest(ctx, "acme", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Certificate = ""
	if err := f.store.UpdateRequest(ctx, stored); err != nil {
		t.Fatal(err)
	}
	first, _, err := f.svc.Certificate(ctx, "acme", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	second, _, err := f.svc.Certificate(ctx, "acme", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) || !bytes.Equal([]byte(f.get(t, r.ID).Certificate), first) {
		t.Error("the certificate issued on the first read is not what later reads return")
	}
	if _, err := certificate.Open(first, publishedKeys(f)); err != nil {
		t.Error(err)
	}
	if n := f.countAudit(t)["certificate.issued"]; n != 1 {
		t.Errorf("%d certificate.issued entries, want 1", n)
	}
}

func TestNoCertificateBeforeTheEnd(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	r := f.submit(t, privacy.TypeErase)
	if _, _, err := f.svc.Certificate(ctx, "acme", r.ID); code(err) != "not-complete" {
		t.Errorf("certificate of a request awaiting its decision: %q, want not-complete", code(err))
	}
	if got := f.get(t, r.ID); got.Certificate != "" {
		t.Error("a certificate was stored")
	}
}
