package webhook_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
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
// README's webhook contract for a service on signing version 2: the secret is
// the decoded base64, the call and callback keys are derived from it as
// DeriveKey does, a call is signed v2 with the call key exactly as privops
// signs it (CallKeys), the callback example verifies with the callback keys
// privops accepts (CallbackKeys) and with nothing else, and the body is what
// privops sends for such a call, field for field and in the same order.
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
	for _, k := range []string{"secret", "secret bytes", "call key", "t", "body", "Privops-Signature",
		"callback key", "callback t", "callback body", "callback signature", "purge body", "purge signature"} {
		if ex[k] == "" {
			t.Fatalf("the README's example has no %q line", k)
		}
	}
	secret, err := base64.StdEncoding.DecodeString(ex["secret"])
	if err != nil || string(secret) != ex["secret bytes"] || len(secret) < webhook.MinSecretBytes {
		t.Fatalf("secret %q does not decode to %q (%v)", ex["secret"], ex["secret bytes"], err)
	}
	for _, k := range []struct{ line, direction string }{{"call key", webhook.DirectionCall}, {"callback key", webhook.DirectionCallback}} {
		if got := hex.EncodeToString(webhook.DeriveKey(secret, k.direction)); got != ex[k.line] {
			t.Errorf("DeriveKey(secret, %q) = %s\nREADME's %s is %s", k.direction, got, k.line, ex[k.line])
		}
	}
	svc := &privacy.Service{Kind: privacy.KindWebhook, SigningVersion: webhook.SigningSeparated,
		Secrets: []privacy.ServiceSecret{{ID: "s1", Value: ex["secret"]}}}
	callKeys, err := webhook.CallKeys(svc)
	if err != nil {
		t.Fatal(err)
	}
	callbackKeys, err := webhook.CallbackKeys(svc)
	if err != nil {
		t.Fatal(err)
	}

	unix, err := strconv.ParseInt(ex["t"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(ex["body"])
	if got := webhook.SignWith(time.Unix(unix, 0), body, callKeys...); got != ex["Privops-Signature"] {
		t.Errorf("privops signs the call\n%s\nREADME says %s", got, ex["Privops-Signature"])
	}
	// Signing with the secret itself (version 1), or with the base64 text,
	// are the usual mistakes: neither may produce the example.
	for name, key := range map[string]webhook.Key{
		"the secret itself": {Scheme: webhook.SchemeV2, Secret: secret},
		"the base64 text":   {Scheme: webhook.SchemeV2, Secret: []byte(ex["secret"])},
		"the callback key":  {Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(secret, webhook.DirectionCallback)},
	} {
		if err := webhook.VerifyWith(ex["Privops-Signature"], body, time.Unix(unix, 0), 0, key); err == nil {
			t.Errorf("the call example verifies with %s; it cannot tell the keys apart", name)
		}
	}

	cbUnix, err := strconv.ParseInt(ex["callback t"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	cbBody := []byte(ex["callback body"])
	if got := webhook.SignWith(time.Unix(cbUnix, 0), cbBody, webhook.Key{Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(secret, webhook.DirectionCallback)}); got != ex["callback signature"] {
		t.Errorf("the callback key signs the callback\n%s\nREADME says %s", got, ex["callback signature"])
	}
	if err := webhook.VerifyWith(ex["callback signature"], cbBody, time.Unix(cbUnix, 0).Add(time.Minute), 0, callbackKeys...); err != nil {
		t.Errorf("privops refuses the README's callback example: %v", err)
	}
	// The call's signature must not pass as a callback's (version 2's point).
	if err := webhook.VerifyWith(ex["Privops-Signature"], body, time.Unix(unix, 0), 0, callbackKeys...); err == nil {
		t.Error("the signed call example verifies as a callback")
	}
	if res, task, err := webhook.ParseResult(cbBody); err != nil || task != "tsk_01" || res.Outcome != privacy.OutcomeDone || res.Items != 3 {
		t.Errorf("ParseResult of the README's callback body = %+v, %q, %v; want done, 3 items, task tsk_01", res, task, err)
	}

	// The purge example is the recorded purge call, signed with the call key.
	recorded, err := os.ReadFile("testdata/purge_call.json")
	if err != nil {
		t.Fatal(err)
	}
	if ex["purge body"] != string(recorded) {
		t.Errorf("the README's purge body\n%s\nis not the recorded call\n%s", ex["purge body"], recorded)
	}
	if got := webhook.SignWith(time.Unix(unix, 0), recorded, callKeys...); got != ex["purge signature"] {
		t.Errorf("privops signs the purge\n%s\nREADME says %s", got, ex["purge signature"])
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
