package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/auth"
)

// TestRetentionSignOffOverHTTP: a policy with signOff waits in the run
// (awaiting-sign-off) until a privacy-admin approves its latest preview;
// approving without a preview, or a preview older than the policy's last
// change, is 409 with a code and changes nothing; the approval is audited
// and idempotent with its Idempotency-Key; only privacy-admin may approve.
func TestRetentionSignOffOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	approver := ta.token(t, "acme", auth.RoleApprover, time.Hour, devKey)
	policy := "/api/admin/acme/retention/policies/closed"
	body := `{"category":"dsr-records","scope":"suite","maxAgeDays":731,"from":"request-closed","action":"delete","signOff":true}`
	if r := ta.do(t, call{method: "PUT", path: policy, header: bearer(admin), body: body}); r.status != http.StatusCreated || r.body["signOff"] != true {
		t.Fatalf("put: %d %v", r.status, r.body)
	}
	run, err := ta.sweeper.Run(context.Background(), "acme", "t1", time.Minute)
	if err != nil || run.Policies[0].Status != "awaiting-sign-off" {
		t.Fatalf("first run: %+v, %v", run, err)
	}
	approve := func(key, tok string) reply {
		t.Helper()
		h := bearer(tok)
		if key != "" {
			h["Idempotency-Key"] = key
		}
		return ta.do(t, call{method: "POST", path: policy + "/approve", header: h})
	}
	refused := func(name string, r reply, status int, code string) {
		t.Helper()
		if r.status != status || r.code != code {
			t.Errorf("%s: %d %q, want %d %q (%v)", name, r.status, r.code, status, code, r.body)
		}
	}
	before := ta.retentionState(t, "acme")
	refused("approve without a preview", approve("", admin), 409, "no-preview")
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/retention/preview?policy=closed", header: bearer(admin)}); r.status != http.StatusOK {
		t.Fatalf("preview: %d %v", r.status, r.body)
	}
	time.Sleep(10 * time.Millisecond) // the change is later than the preview
	if r := ta.do(t, call{method: "PUT", path: policy, header: bearer(admin), body: strings.Replace(body, "731", "800", 1)}); r.status != http.StatusOK {
		t.Fatalf("change: %d %v", r.status, r.body)
	}
	before = ta.retentionState(t, "acme")
	refused("approve a preview older than the change", approve("", admin), 409, "preview-outdated")
	refused("an approver approves", approve("", approver), 403, "forbidden-role")
	if r := ta.do(t, call{method: "POST", path: policy + "/approve", header: bearer(admin), body: `{"ok":true}`}); r.status != 400 || r.code != "unexpected-body" {
		t.Errorf("approve with a body: %d %q", r.status, r.code)
	}
	if after := ta.retentionState(t, "acme"); after != before {
		t.Errorf("refused approvals changed state:\n%s→\n%s", before, after)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/retention/preview?policy=closed", header: bearer(admin)}); r.status != http.StatusOK {
		t.Fatalf("preview: %d %v", r.status, r.body)
	}
	r := approve("approve-closed-1", admin)
	approved, _ := r.body["approved"].(map[string]any)
	last, _ := r.body["lastPreview"].(map[string]any)
	if r.status != http.StatusOK || approved == nil || last == nil || approved["previewAt"] != last["at"] {
		t.Fatalf("approve: %d %v", r.status, r.body)
	}
	again := approve("approve-closed-1", admin)
	if again.status != http.StatusOK || again.text != r.text {
		t.Errorf("the same approval again: %d %s, want the first answer %s", again.status, again.text, r.text)
	}
	refused("the key reused for another change", ta.do(t, call{method: "POST", path: "/api/admin/acme/holds",
		header: map[string]string{"Authorization": "Bearer " + admin, "Idempotency-Key": "approve-closed-1"},
		body:   `{"scope":"tenant","category":"legal-claims","reason":"x"}`}), 409, "idempotency-key-reused")

	var approvals []string
	evs, _ := ta.store.ListAudit(context.Background(), "acme", 0, 1000)
	for _, e := range evs {
		if e.Action == "retention-policy.approved" {
			approvals = append(approvals, e.Target+" "+e.Details["previewAt"])
		}
	}
	if diff := cmp.Diff([]string{"retention-policy/closed " + last["at"].(string)}, approvals); diff != "" {
		t.Errorf("approvals audited (-want +got):\n%s", diff)
	}
	run, err = ta.sweeper.Run(context.Background(), "acme", "t2", time.Minute)
	if err != nil || run.Policies[0].Status != "done" {
		t.Errorf("run after the approval: %+v, %v", run, err)
	}
	// Changing the policy again needs a new approval.
	if r := ta.do(t, call{method: "PUT", path: policy, header: bearer(admin), body: body}); r.status != http.StatusOK || r.body["approved"] != nil {
		t.Fatalf("change after approval: %d %v", r.status, r.body)
	}
	run, err = ta.sweeper.Run(context.Background(), "acme", "t3", time.Minute)
	if err != nil || run.Policies[0].Status != "awaiting-sign-off" {
		t.Errorf("run after a change: %+v, %v", run, err)
	}
}
