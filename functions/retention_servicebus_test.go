package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/inbound"
	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/auth"
)

// TestServiceBusServicePurgedBySweep (issue 12, items 4-5), through the
// README's public surface: a policy on a Service Bus service is accepted;
// the sweep sends the service's queue a purge command signed with the
// service's secret (command key), naming the subject of a subject hold
// only as a salted hash; the run report shows the policy awaiting its
// answer; the service's com.privops.purge.completed.v1 over the inbound
// queue lands its counts (keptByHold included) and ends the run; a second
// answer is rejected purge-answered; no email reaches the command, the hold
// listing or the logs.
func TestServiceBusServicePurgedBySweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ta := newTestApp(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	const held = "Held.Subject@Example.org"
	steps := []call{
		{method: "PUT", path: "/api/admin/acme/services/erp", header: bearer(admin),
			body: `{"name":"ERP","kind":"servicebus","queue":"erp-in","actions":["erase","purge"],"categories":["billing"],"identifiers":["email"]}`},
		{method: "PUT", path: "/api/admin/acme/retention/policies/erp-orders", header: bearer(admin),
			body: `{"category":"payment","scope":"service","service":"erp","maxAgeDays":400,"from":"created","action":"delete"}`},
		{method: "POST", path: "/api/admin/acme/holds", header: bearer(admin),
			body: `{"scope":"subject","email":"` + held + `","reason":"litigation","category":"legal-claims"}`},
	}
	var svcKey sender.Key // the service's secret: what the command is signed with
	for _, c := range steps {
		r := ta.do(t, c)
		if r.status != http.StatusCreated && r.status != http.StatusOK {
			t.Fatalf("%s %s: %d %v", c.method, c.path, r.status, r.body)
		}
		if sec, ok := r.body["newSecret"].(string); ok {
			b, _ := base64.StdEncoding.DecodeString(sec)
			secrets, _ := r.body["secrets"].([]any)
			svcKey = sender.Key{ID: secrets[len(secrets)-1].(map[string]any)["id"].(string), Secret: b}
		}
	}
	r := ta.do(t, call{method: "POST", path: "/api/admin/acme/inbound-keys", header: bearer(admin)})
	secret, err := base64.StdEncoding.DecodeString(r.body["secret"].(string))
	if r.status != http.StatusCreated || err != nil {
		t.Fatalf("inbound key: %d %v", r.status, r.body)
	}
	key := sender.Key{ID: r.body["id"].(string), Secret: secret}

	run, err := ta.sweeper.Run(ctx, "acme", "test", time.Minute)
	if err != nil || run.Finished() {
		t.Fatalf("run %+v, %v", run, err)
	}
	d, err := ta.queue.Receive(ctx, "erp-in", time.Minute)
	if err != nil || d == nil {
		t.Fatalf("no purge command on the service's queue: %v", err)
	}
	if err := sender.VerifyCommand([]sender.Key{svcKey}, d.Body, d.Properties[sender.SignatureProperty], time.Now(), 0); err != nil {
		t.Errorf("the command does not verify with the service's secret: %v", err)
	}
	if err := sender.VerifyCommand([]sender.Key{key}, d.Body, d.Properties[sender.SignatureProperty], time.Now(), 0); err == nil {
		t.Error("the command verifies with the tenant's inbound key, which all its systems hold")
	}
	var ev struct {
		Type string
		Data sender.PurgeCommand
	}
	if err := json.Unmarshal(d.Body, &ev); err != nil || ev.Type != sender.PurgeCommandType || d.ID != ev.Data.PurgeID+".purge" {
		t.Fatalf("command %s: %v", d.Body, err)
	}
	salt, _ := base64.StdEncoding.DecodeString(ev.Data.Exclusions.Salt)
	if diff := cmp.Diff([]string{sender.ExclusionHash(salt, held)}, ev.Data.Exclusions.Hashes); diff != "" {
		t.Errorf("exclusions (-want +got):\n%s", diff)
	}

	report := func() map[string]any {
		r := ta.do(t, call{method: "GET", path: "/api/admin/acme/retention/runs/" + run.ID, header: bearer(admin)})
		pol, _ := r.body["policies"].([]any)
		if r.status != http.StatusOK || len(pol) != 1 {
			t.Fatalf("run report: %d %v", r.status, r.body)
		}
		return pol[0].(map[string]any)
	}
	if got := pick(report(), "status", "excluded"); !cmp.Equal(got, []any{"awaiting-answer", 1.0}) {
		t.Errorf("before the answer: status, excluded = %v", got)
	}

	answer := func(purged int64) inbound.Outcome {
		e, err := sender.NewPurgeCompleted("acme", "/services/erp", sender.PurgeCompleted{RunID: ev.Data.RunID, PolicyID: ev.Data.PolicyID,
			Outcome: sender.PurgeDone, Purged: purged, Kept: 2, KeptByHold: 1})
		if err != nil {
			t.Fatal(err)
		}
		m, err := e.Message(key, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out, err := ta.inbound.Handle(ctx, inbound.Delivery{MessageID: m.MessageID, Body: m.Body, ContentType: m.ContentType, Properties: m.Properties, At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := answer(40); out.Status != inbound.Accepted {
		t.Fatalf("answer: %+v", out)
	}
	if got := pick(report(), "status", "scanned", "purged", "keptByService", "keptByHold"); !cmp.Equal(got, []any{"done", 43.0, 40.0, 2.0, 1.0}) {
		t.Errorf("after the answer: status, scanned, purged, keptByService, keptByHold = %v", got)
	}
	r = ta.do(t, call{method: "GET", path: "/api/admin/acme/retention/runs", header: bearer(admin)})
	if runs, _ := r.body["runs"].([]any); len(runs) != 1 || runs[0].(map[string]any)["finishedAt"] == nil {
		t.Errorf("the answer did not end the run: %v", r.body)
	}
	if out := answer(99); out.Status != inbound.Rejected || out.Code != "purge-answered" {
		t.Errorf("a second answer: %+v", out)
	}
	r = ta.do(t, call{method: "GET", path: "/api/admin/acme/holds", header: bearer(admin)})
	if b, _ := json.Marshal(r.body); strings.Contains(string(b), "sealedEmail") {
		t.Errorf("the hold listing shows the sealed email: %s", b)
	}
	for name, text := range map[string]string{"command": string(d.Body), "logs": ta.logs.String()} {
		if strings.Contains(strings.ToLower(text), "subject@example.org") {
			t.Errorf("the %s holds the held subject's email", name)
		}
	}
}

// TestServiceBusDryRunThroughThePreview: POST …/retention/preview sends a
// Service Bus service that lists purge-dry-run a dry-run command, waits for
// its answer over the inbound queue and reports the counts; no run starts.
func TestServiceBusDryRunThroughThePreview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ta := newTestApp(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	for _, c := range []call{
		{method: "PUT", path: "/api/admin/acme/services/erp", header: bearer(admin),
			body: `{"name":"ERP","kind":"servicebus","queue":"erp-in","actions":["erase","purge","purge-dry-run"],"categories":["billing"],"identifiers":["email"]}`},
		{method: "PUT", path: "/api/admin/acme/retention/policies/erp-orders", header: bearer(admin),
			body: `{"category":"payment","scope":"service","service":"erp","maxAgeDays":400,"from":"created","action":"delete"}`},
	} {
		if r := ta.do(t, c); r.status != http.StatusCreated {
			t.Fatalf("%s %s: %d %v", c.method, c.path, r.status, r.body)
		}
	}
	r := ta.do(t, call{method: "POST", path: "/api/admin/acme/inbound-keys", header: bearer(admin)})
	secret, _ := base64.StdEncoding.DecodeString(r.body["secret"].(string))
	key := sender.Key{ID: r.body["id"].(string), Secret: secret}

	// The service: answers the dry-run command it finds on its queue.
	served := make(chan error, 1)
	go func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			d, err := ta.queue.Receive(ctx, "erp-in", time.Minute)
			if err != nil || d == nil {
				continue
			}
			var ev struct{ Data sender.PurgeCommand }
			if err := json.Unmarshal(d.Body, &ev); err != nil || !ev.Data.DryRun {
				served <- fmt.Errorf("not a dry run: %s", d.Body)
				return
			}
			e, err := sender.NewPurgeCompleted("acme", "/services/erp", sender.PurgeCompleted{RunID: ev.Data.RunID, PolicyID: ev.Data.PolicyID,
				DryRun: true, Outcome: sender.PurgeDone, Purged: 17, Kept: 1})
			if err != nil {
				served <- err
				return
			}
			m, _ := e.Message(key, time.Now())
			out, err := ta.inbound.Handle(ctx, inbound.Delivery{MessageID: m.MessageID, Body: m.Body, ContentType: m.ContentType, Properties: m.Properties, At: time.Now()})
			if err == nil && out.Status != inbound.Accepted {
				err = fmt.Errorf("answer %+v", out)
			}
			served <- err
			return
		}
		served <- errors.New("no dry-run command came")
	}()
	r = ta.do(t, call{method: "POST", path: "/api/admin/acme/retention/preview", header: bearer(admin)})
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	pol, _ := r.body["policies"].([]any)
	if r.status != http.StatusOK || len(pol) != 1 {
		t.Fatalf("preview: %d %v", r.status, r.body)
	}
	if got := pick(pol[0], "status", "scanned", "purged", "keptByService"); !cmp.Equal(got, []any{"done", 18.0, 17.0, 1.0}) {
		t.Errorf("preview: status, scanned, purged, keptByService = %v", got)
	}
	r = ta.do(t, call{method: "GET", path: "/api/admin/acme/retention/runs", header: bearer(admin)})
	if runs, _ := r.body["runs"].([]any); len(runs) != 0 {
		t.Errorf("the preview started a run: %v", r.body)
	}
}
