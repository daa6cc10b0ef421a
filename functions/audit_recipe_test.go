package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/privops/privops/shared/auth"
)

// TestAuditChainFromTheREADMERecipe verifies a tenant's chain the way the
// README tells an outsider to: from the bytes of GET /api/admin/{tenant}/audit
// alone, with SHA-256 and a text substitution, and no privops code. The
// actor names hold what Go escapes (<, >, &, U+2028) and non-ASCII text.
func TestAuditChainFromTheREADMERecipe(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	id, tok := ta.submit(t, "acme", "recipe@example.com")
	if r := ta.do(t, call{method: "POST", path: "/api/portal/acme/requests/" + id + "/verify", header: bearer(tok),
		body: `{"code":"` + ta.mail.lastCode(t) + `"}`}); r.status != 200 {
		t.Fatalf("verify: %d %v", r.status, r.body)
	}
	odd, err := auth.Mint(devKey, auth.Claims{Subject: "Zoë <ops> & co\u2028", TenantID: "acme", Roles: []string{auth.RoleAdmin}},
		ta.cfg.AuthIssuer, ta.cfg.AuthAudience, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/extend", header: bearer(odd),
		body: `{"reason":"many requests"}`}); r.status != 200 {
		t.Fatalf("extend: %d %v", r.status, r.body)
	}

	req, _ := http.NewRequest("GET", ta.srv.URL+"/api/admin/acme/audit?limit=500", nil)
	req.Header.Set("Authorization", "Bearer "+odd)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(raw, &page); err != nil || len(page.Events) < 3 {
		t.Fatalf("audit page: %v, %d events", err, len(page.Events))
	}
	hashField := regexp.MustCompile(`"hash":"([0-9a-f]{64})"}$`)
	prev := ""
	sawEscapes := false
	for i, ev := range page.Events {
		var head struct {
			Seq      int64  `json:"seq"`
			PrevHash string `json:"prevHash"`
		}
		if err := json.Unmarshal(ev, &head); err != nil {
			t.Fatal(err)
		}
		m := hashField.FindSubmatch(ev)
		if m == nil {
			t.Fatalf("event %d does not end with its hash: %s", i+1, ev)
		}
		canonical := hashField.ReplaceAll(ev, []byte(`"hash":""}`))
		sum := sha256.Sum256(append([]byte(prev+"\n"), canonical...))
		if head.Seq != int64(i+1) || head.PrevHash != prev || hex.EncodeToString(sum[:]) != string(m[1]) {
			t.Fatalf("event %d (seq %d) fails the README recipe:\n%s", i+1, head.Seq, ev)
		}
		sawEscapes = sawEscapes || bytes.Contains(ev, []byte(`\u003cops\u003e \u0026 co\u2028`))
		prev = string(m[1])
	}
	if !sawEscapes {
		t.Error("no event carried the escaped actor: the recipe's escaping rules went untested")
	}
}
