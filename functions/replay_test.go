package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/functions/inbound"
	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/privacy"
)

// TestReplayCommand runs `privops replay` on the embedded default after a
// fix: a message rejected as stale under a window too short is carried out,
// and a dead letter of the inbound queue goes back to the queue.
func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("DEMO_TENANT", "false")
	t.Setenv("INBOUND_WINDOW", "30s")
	ctx := context.Background()

	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(ctx, cfg, logging.New(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.EnsureTenant(ctx, &privacy.Tenant{ID: "acme", Name: "Acme", Regimes: privacy.Regimes, TimeZone: "UTC",
		PIPLDays: 30, DefaultDays: 30}); err != nil {
		t.Fatal(err)
	}
	k, err := a.svc.CreateInboundKey(ctx, "acme", dsr.Actor{Admin: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := base64.StdEncoding.DecodeString(k.Value)
	ev, err := sender.NewDSRRequested("acme", "https://hr.acme.example", sender.DSRRequested{Type: sender.RequestErase,
		Subject: sender.Subject{Email: "leaver@acme.example", Country: "DE"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m, err := ev.Message(sender.Key{ID: k.ID, Secret: secret}, now.Add(-2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.inbound.Handle(ctx, inbound.Delivery{MessageID: m.MessageID, Body: m.Body, ContentType: m.ContentType, Properties: m.Properties, At: now})
	if err != nil || out.Status != inbound.Rejected || out.Code != "stale" {
		t.Fatalf("with a 30s window: %+v, %v", out, err)
	}
	// A message that failed for good on the built-in queue: a dead letter.
	q := a.db.Queue()
	if err := q.Publish(ctx, cfg.InboundQueue, privacy.OutMessage{ID: "dl-1", Body: m.Body, ContentType: m.ContentType, Properties: m.Properties}); err != nil {
		t.Fatal(err)
	}
	d, err := q.Receive(ctx, cfg.InboundQueue, time.Minute)
	if err != nil || d == nil {
		t.Fatalf("receive: %v, %v", d, err)
	}
	if err := q.DeadLetter(ctx, d, "store unavailable 10 times"); err != nil {
		t.Fatal(err)
	}
	a.Close()

	t.Setenv("INBOUND_WINDOW", "5m") // the fix
	fixed, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(ctx, []string{"replay"}, &stdout, io.Discard); err != nil {
		t.Fatalf("privops replay: %v\n%s", err, stdout.String())
	}
	for _, want := range []string{"rejected messages of acme: 1 accepted, 0 already done, 0 rejected again",
		"dead letters of " + fixed.InboundQueue + ": 1 moved back to the queue"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "leaver") {
		t.Errorf("the output names the subject:\n%s", stdout.String())
	}
	// The request now exists, submitted by the tenant's system.
	b, err := build(ctx, fixed, logging.New(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	page, err := b.svc.List(ctx, "acme", privacy.RequestFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Requests) != 1 || page.Requests[0].SubmittedBy != "system:https://hr.acme.example" {
		t.Fatalf("requests after the replay: %+v", page.Requests)
	}
}

// TestReplayRefusesSQSDeadLetters: SQS keeps its dead letters in its own
// queue, so `privops replay` says where to redrive them instead of looking
// for them in an embedded queue it never opened.
func TestReplayRefusesSQSDeadLetters(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.QueueBackend = "sqs"
	a := &app{cfg: cfg}
	var out strings.Builder
	err = a.replayDeadLetters(context.Background(), &out)
	if err == nil || !strings.Contains(err.Error(), "QUEUE_BACKEND=sqs") || !strings.Contains(err.Error(), "redrive") {
		t.Errorf("replay on SQS: %v, want the dead-letter queue named as the place to redrive", err)
	}
	if out.Len() != 0 {
		t.Errorf("replay on SQS printed %q", out.String())
	}
}
