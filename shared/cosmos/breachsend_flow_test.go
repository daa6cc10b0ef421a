package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// flowQueue is an in-test queue: it keeps the published messages, once per
// message id, as the real queues dedupe them.
type flowQueue struct {
	mu   sync.Mutex
	seen map[string]bool
	msgs [][]byte
}

func (q *flowQueue) Publish(_ context.Context, _ string, ms ...privacy.OutMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range ms {
		if !q.seen[m.ID] {
			q.seen[m.ID] = true
			q.msgs = append(q.msgs, m.Body)
		}
	}
	return nil
}

func (q *flowQueue) pop() ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return nil, false
	}
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	return m, true
}

type flowMail struct {
	mu  sync.Mutex
	got map[string]int
}

func (m *flowMail) Send(_ context.Context, mail privacy.Mail) error {
	if strings.HasPrefix(mail.To, "bounce") {
		return errors.New("send mail x: smtp.RCPT: smtp 550 5.1.1")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got[mail.To]++
	return nil
}

type flowNotices struct{}

func (flowNotices) SubjectNotice(_ context.Context, _, incidentID string) (breachsend.Notice, error) {
	return breachsend.Notice{IncidentID: incidentID, Version: 1, Approved: true, ApprovedAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Subject: map[string]string{"en": "Notice of Data Breach"}, Text: map[string]string{"en": "What happened"}}, nil
}

// TestBreachSendFlowOnCosmos runs the fan-out service on the Cosmos adapter:
// upload (with a duplicate), start, every plan and batch message delivered,
// each batch message delivered twice (a redelivery), then the purge once the
// list's keep ran out. Every address is mailed once, the counters add up, and
// nothing of the list is left.
func TestBreachSendFlowOnCosmos(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	ctx := t.Context()
	tenant := "bs-flow-" + randomID(t)
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	q := &flowQueue{seen: map[string]bool{}}
	mail := &flowMail{got: map[string]int{}}
	n := 0
	svc, err := breachsend.New(breachsend.Config{Queue: "breach", BatchSize: 50, PlanStep: 3, Concurrency: 4, Keep: 24 * time.Hour},
		breachsend.Deps{Store: s.BreachSend(), Notices: flowNotices{}, Publisher: q, Mailer: mail,
			Key: []byte("0123456789abcdef0123456789abcdef"), Now: clock,
			NewID: func() string { mu.Lock(); defer mu.Unlock(); n++; return fmt.Sprintf("id%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	const total = 230
	var csv strings.Builder
	csv.WriteString("email,language\n")
	for i := 1; i <= total; i++ {
		local := "r"
		if i%50 == 0 {
			local = "bounce"
		}
		fmt.Fprintf(&csv, "%s%d@example.com,en\n", local, i)
	}
	csv.WriteString("r1@example.com,en\n") // a duplicate
	c, err := svc.Upload(ctx, tenant, "inc-1", "text/csv", strings.NewReader(csv.String()), "admin:a")
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if c.Total != total || c.Duplicates != 1 {
		t.Fatalf("upload: %d recipients, %d duplicates; want %d, 1", c.Total, c.Duplicates, total)
	}
	if _, _, err := svc.Start(ctx, tenant, "inc-1", "admin:a"); err != nil {
		t.Fatalf("start: %v", err)
	}
	for range 1000 {
		body, ok := q.pop()
		if !ok {
			break
		}
		ev, err := privacy.DecodeEvent(body)
		if err != nil {
			t.Fatal(err)
		}
		var w breachsend.Work
		if err := json.Unmarshal(ev.Data, &w); err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case breachsend.EventPlan:
			err = svc.Plan(ctx, ev.TenantID, w)
		case breachsend.EventBatch:
			for range 2 { // delivered, and delivered again
				if err = svc.Deliver(ctx, ev.TenantID, w); err != nil {
					break
				}
			}
		case breachsend.EventPurge:
			continue // the watch below purges
		}
		if err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
	}
	for addr, k := range mail.got {
		if k != 1 {
			t.Errorf("%s mailed %d times, want once", addr, k)
		}
	}
	if len(mail.got) != total-total/50 {
		t.Errorf("%d addresses mailed, want %d", len(mail.got), total-total/50)
	}
	c, err = svc.Campaign(ctx, tenant, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	want := breachsend.Progress{Total: total, Sent: total - total/50, Failed: total / 50, Bounced: total / 50}
	if diff := cmp.Diff(want, c.Progress()); diff != "" || c.State != breachsend.StateDone {
		t.Errorf("campaign %s, progress (-want +got):\n%s", c.State, diff)
	}
	mu.Lock()
	now = now.Add(48 * time.Hour)
	mu.Unlock()
	// Purge, not Watch: the watch would purge other tests' due lists in the
	// shared database too (storetest's StagedAndExpired checks Expired).
	if k, err := svc.Purge(ctx, tenant, "inc-1"); err != nil || k != 1 {
		t.Errorf("purge: purged %d, %v; want 1", k, err)
	}
	if left, err := s.BreachSend().CountRecipients(ctx, tenant, "inc-1"); err != nil || left != 0 {
		t.Errorf("recipients left after the purge: %d, %v; want 0", left, err)
	}
}
