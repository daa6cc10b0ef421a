package webhook_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// TestREADMEWebhookExample recomputes the worked signature example of the
// README's webhook contract: the key is the decoded secret, the signed text
// is t "." body, and the body is what privops sends for such a call, field for
// field and in the same order.
func TestREADMEWebhookExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ex := map[string]string{}
	i := bytes.Index(readme, []byte("```text\nsecret:"))
	if i < 0 {
		t.Fatal("the README has no worked signature example")
	}
	sc := bufio.NewScanner(bytes.NewReader(readme[i+len("```text\n"):]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && sc.Text() != "```" {
		k, v, _ := strings.Cut(sc.Text(), ":")
		ex[k] = strings.TrimSpace(v)
	}
	key, err := base64.StdEncoding.DecodeString(ex["secret"])
	if err != nil || string(key) != ex["key"] || len(key) < webhook.MinSecretBytes {
		t.Fatalf("secret %q does not decode to the key %q (%v)", ex["secret"], ex["key"], err)
	}
	unix, err := strconv.ParseInt(ex["t"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(ex["body"])
	if got := webhook.Sign(time.Unix(unix, 0), body, key); got != ex["Privops-Signature"] {
		t.Errorf("Sign = %s\nREADME says %s", got, ex["Privops-Signature"])
	}
	if err := webhook.Verify(ex["Privops-Signature"], body, time.Unix(unix, 0).Add(time.Minute), 0, key); err != nil {
		t.Errorf("Verify of the README example: %v", err)
	}
	// Signing with the base64 text instead of the bytes is the usual mistake:
	// it must not verify.
	if err := webhook.Verify(ex["Privops-Signature"], body, time.Unix(unix, 0), 0, []byte(ex["secret"])); err == nil {
		t.Error("the base64 text verifies as the key; the example cannot tell the two apart")
	}

	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	call := privacy.ConnectorCall{TaskID: p.TaskID, RequestID: p.RequestID, TenantID: p.TenantID, Action: p.Action,
		Identifiers: p.Identifiers, Categories: p.Categories, Deadline: p.Deadline, CallbackURL: p.CallbackURL}
	sent, err := json.Marshal(webhook.NewPayload(call))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sent, body) {
		t.Errorf("privops would send\n%s\nthe README shows\n%s", sent, body)
	}
}
