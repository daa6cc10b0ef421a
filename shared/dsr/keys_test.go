package dsr_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// legacyMAC is how every value was made before per-purpose keys: one key
// (the fixtures' token key) for all, each part NUL-terminated.
func legacyMAC(parts ...string) []byte {
	m := hmac.New(sha256.New, bytes.Repeat([]byte{2}, 32))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestRequestTokensPerPurposeKey: new tokens are tagged and made with their
// own key; a token handed out before still checks; a legacy value carried
// over to another purpose never does.
func TestRequestTokensPerPurposeKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Request.ID
	legacy := b64(legacyMAC("request-token", "acme", id)[:24])
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"the token handed out now", res.Token, true},
		{"a token handed out before per-purpose keys", legacy, true},
		{"the legacy token tagged as new", "2." + legacy, false},
		{"another request's legacy token", b64(legacyMAC("request-token", "acme", id+"x")[:24]), false},
		{"a legacy download signature as a token", b64(legacyMAC("download", "acme", id)[:24]), false},
		{"empty", "", false},
	}
	if !strings.HasPrefix(res.Token, "2.") || res.Token == "2."+legacy {
		t.Errorf("new token %q: want the 2. tag and a key of its own", res.Token)
	}
	for _, tc := range tests {
		if got := f.svc.CheckToken("acme", id, tc.token); got != tc.want {
			t.Errorf("%s: CheckToken = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestLegacyCodeHashStillVerifies: a request stored with an untagged code
// hash (made with the legacy key) verifies with its code; new hashes are tagged.
func TestLegacyCodeHashStillVerifies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.store.GetRequest(ctx, "acme", res.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Verification.CodeHash, "2:") {
		t.Errorf("new code hash %q is not tagged 2:", r.Verification.CodeHash)
	}
	code := f.mail.lastCode(t)
	r.Verification.CodeHash = hex.EncodeToString(legacyMAC("otp", "acme", r.ID, code))
	if err := f.store.UpdateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(ctx, "acme", r.ID, code); err != nil {
		t.Errorf("verify against a legacy code hash: %v", err)
	}
}

// TestIdempotencyKeyOfALegacySubmission: a submission first made before
// per-purpose keys (its id made with the legacy key) is replayed, not made twice.
func TestIdempotencyKeyOfALegacySubmission(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first, err := f.svc.Submit(ctx, "acme", validSubmission(), "key-0", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	// Store a copy under the id key-1 had before per-purpose keys.
	old, err := f.store.GetRequest(ctx, "acme", first.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	old.ID, old.ETag = "dsr_"+hex.EncodeToString(legacyMAC("idempotency", "acme", dsr.Actor{}.String(), "key-1")[:16]), ""
	if err := f.store.CreateRequest(ctx, old); err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.Submit(ctx, "acme", validSubmission(), "key-1", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replay || again.Request.ID != old.ID {
		t.Errorf("replay %v of %s, want the legacy request %s", again.Replay, again.Request.ID, old.ID)
	}
	page, _ := f.store.ListRequests(ctx, "acme", privacy.RequestFilter{Limit: 10})
	if len(page.Requests) != 2 {
		t.Errorf("%d requests stored, want 2 (no new one)", len(page.Requests))
	}
}

// TestLegacyDownloadLinkStillWorks: a link mailed before per-purpose keys
// (an untagged signature) still downloads; the new link is tagged.
func TestLegacyDownloadLinkStillWorks(t *testing.T) {
	t.Parallel()
	f, r := exportDone(t, done)
	expires, sig := linkParts(t, f.svc.DownloadLink(r))
	if !strings.HasPrefix(sig, "2.") {
		t.Errorf("new link signature %q is not tagged 2.", sig)
	}
	legacy := b64(legacyMAC("download", "acme", r.ID, expires)[:24])
	for _, s := range []string{sig, legacy} {
		rc, _, err := f.svc.Download(ctx, "acme", r.ID, expires, s)
		if err != nil {
			t.Errorf("download with %q: %v", s[:3], err)
			continue
		}
		rc.Close()
	}
	if _, _, err := f.svc.Download(ctx, "acme", r.ID, expires, b64(legacyMAC("request-token", "acme", r.ID)[:24])); code(err) != "unknown-request" {
		t.Errorf("a request token as a link signature: %q, want unknown-request", code(err))
	}
}
