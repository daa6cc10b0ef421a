package breachsend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// upload uploads list as CSV and starts the campaign, failing the test on an error.
func (f *fixture) uploadAndStart(tb testing.TB, tenant, incident, list string) *breachsend.Campaign {
	tb.Helper()
	ctx := context.Background()
	f.notices.set(tenant, approved(incident))
	if _, err := f.svc.Upload(ctx, tenant, incident, "text/csv", strings.NewReader(list), "admin:ada"); err != nil {
		tb.Fatalf("upload: %v", err)
	}
	c, started, err := f.svc.Start(ctx, tenant, incident, "admin:ada")
	if err != nil || !started {
		tb.Fatalf("start: %v, started %v", err, started)
	}
	return c
}

func (f *fixture) progress(tb testing.TB, tenant, incident string) (breachsend.Progress, *breachsend.Campaign) {
	tb.Helper()
	c, err := f.svc.Campaign(context.Background(), tenant, incident)
	if err != nil {
		tb.Fatal(err)
	}
	return c.Progress(), c
}

// TestEveryRecipientOnceAcrossCrashes: a crash right after a ledger row
// advanced to sent (at several points) and the redelivery of the batch that
// follows send every recipient exactly one mail, in their language, with the
// Message-ID of their ledger key.
func TestEveryRecipientOnceAcrossCrashes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		crashAt []int64 // the n-th "breachsend.sent" steps that crash
	}{
		{"no crash", nil},
		{"one crash mid batch", []int64{7}},
		{"crash at a batch's last", []int64{10}},
		{"three crashes", []int64{3, 15, 33}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			f := newFixture(t, breachsend.Config{BatchSize: 10, PlanStep: 2, Concurrency: 1}, func(f *fixture, step string) {
				if step != "breachsend.sent" {
					return
				}
				k := n.Add(1)
				for _, c := range tc.crashAt {
					if k == c {
						f.crash()
					}
				}
			})
			f.uploadAndStart(t, "acme", "inc-1", csvList(45))
			crashes := f.drain(t)
			if crashes != len(tc.crashAt) {
				t.Errorf("crashes = %d, want %d", crashes, len(tc.crashAt))
			}
			want := map[string]int{}
			for i := 1; i <= 45; i++ {
				want[fmt.Sprintf("r%d@example.com", i)] = 1
			}
			if diff := cmp.Diff(want, f.mail.perAddress()); diff != "" {
				t.Errorf("mails per address (-want +got):\n%s", diff)
			}
			p, c := f.progress(t, "acme", "inc-1")
			if diff := cmp.Diff(breachsend.Progress{Total: 45, Sent: 45}, p); diff != "" {
				t.Errorf("progress (-want +got):\n%s", diff)
			}
			if c.State != breachsend.StateDone || c.Public {
				t.Errorf("state %s public %v, want done and no public notice", c.State, c.Public)
			}
			ids := map[string]bool{}
			for _, m := range f.mail.got {
				ids[m.ID] = true
				zh := strings.Contains(m.Subject, "数据")
				var i int
				fmt.Sscanf(m.To, "r%d@", &i)
				if zh != (i%2 == 0) {
					t.Errorf("mail %d in the wrong language: %q", i, m.Subject)
				}
			}
			if len(ids) != 45 {
				t.Errorf("%d distinct Message-IDs, want 45", len(ids))
			}
		})
	}
}

// TestBounceAndRetry: a refused address (5xx) is recorded as bounced at
// once, a transient failure is retried with backoff until it is accepted,
// and one that keeps failing is failed after BREACH_SEND_MAX_ATTEMPTS; a
// campaign with failures publishes its public notice (Art. 34(3)(c)).
func TestBounceAndRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, breachsend.Config{BatchSize: 4, Concurrency: 2, MaxAttempts: 3, RetryBase: time.Minute}, nil)
	f.mail.fail = func(m privacy.Mail, attempt int) error {
		switch {
		case m.To == "r2@example.com":
			return errors.New("send mail x: smtp.RCPT: smtp 550 5.1.1")
		case m.To == "r3@example.com" && attempt < 3:
			return fmt.Errorf("send mail x: connect: timeout: %w", privacy.ErrUnavailable)
		case m.To == "r5@example.com":
			return fmt.Errorf("send mail x: smtp 451: %w", privacy.ErrUnavailable)
		}
		return nil
	}
	f.uploadAndStart(t, "acme", "inc-1", csvList(6))
	f.drainUntil(t, func() bool { _, c := f.progress(t, "acme", "inc-1"); return c.State == breachsend.StateDone })
	p, c := f.progress(t, "acme", "inc-1")
	if diff := cmp.Diff(breachsend.Progress{Total: 6, Sent: 4, Failed: 2, Bounced: 1}, p); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"r2@example.com": 1, "r3@example.com": 3, "r5@example.com": 3}, map[string]int{
		"r2@example.com": f.mail.seen["r2@example.com"], "r3@example.com": f.mail.seen["r3@example.com"], "r5@example.com": f.mail.seen["r5@example.com"]}); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if !c.Public || c.PublicReason != "individual-notice-failed" || c.State != breachsend.StateDone {
		t.Errorf("campaign %s public %v (%s), want done with a public notice for the failures", c.State, c.Public, c.PublicReason)
	}
	got, err := f.store.Deliveries(context.Background(), "acme", "inc-1", c.ListID, breachsend.ChannelEmail, c.NoticeVersion, 2, 2)
	if err != nil || len(got) != 1 || got[0].Status != breachsend.StatusBounced || got[0].Attempts != 1 {
		t.Fatalf("r2's ledger = %+v, %v; want bounced", got, err)
	}
}

// TestStartNeedsApprovalAndIsIdempotent: no list, an unapproved or unknown
// notice are refused with their codes and change nothing; a second start
// answers the same campaign and enqueues nothing new.
func TestStartNeedsApprovalAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, breachsend.Config{BatchSize: 10}, nil)
	code := func(err error) string {
		if e, ok := privacy.AsError(err); ok {
			return e.Code
		}
		return fmt.Sprint(err)
	}
	if _, _, err := f.svc.Start(ctx, "acme", "nope", "admin:ada"); code(err) != "unknown-incident" {
		t.Errorf("unknown incident: %v", err)
	}
	n := approved("inc-1")
	n.Approved = false
	f.notices.set("acme", n)
	if _, _, err := f.svc.Start(ctx, "acme", "inc-1", "admin:ada"); code(err) != "no-recipients" {
		t.Errorf("no list: %v", err)
	}
	if _, err := f.svc.Upload(ctx, "acme", "inc-1", "text/csv", strings.NewReader(csvList(25)), "admin:ada"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Start(ctx, "acme", "inc-1", "admin:ada"); code(err) != "notice-not-approved" {
		t.Errorf("unapproved: %v", err)
	}
	if c, err := f.svc.Campaign(ctx, "acme", "inc-1"); err != nil || c.State != breachsend.StateReady {
		t.Fatalf("after refusals: %+v, %v; want ready", c, err)
	}
	if cnt, _ := f.db.Queue().Counts(ctx, queue); cnt.Visible != 0 {
		t.Errorf("refusals enqueued %d messages", cnt.Visible)
	}
	f.notices.set("acme", approved("inc-1"))
	first, started, err := f.svc.Start(ctx, "acme", "inc-1", "admin:ada")
	if err != nil || !started {
		t.Fatal(err)
	}
	again, started, err := f.svc.Start(ctx, "acme", "inc-1", "admin:bob")
	if err != nil || started || again.StartedAt != first.StartedAt || again.StartedBy != "admin:ada" {
		t.Fatalf("second start: %+v started %v, %v; want the first campaign", again, started, err)
	}
	if cnt, _ := f.db.Queue().Counts(ctx, queue); cnt.Visible != 1 {
		t.Errorf("%d messages enqueued, want the one plan message", cnt.Visible)
	}
	if _, err := f.svc.Upload(ctx, "acme", "inc-1", "text/csv", strings.NewReader(csvList(3)), "admin:ada"); code(err) != "campaign-started" {
		t.Errorf("upload after start: %v", err)
	}
	// Another tenant never sees it.
	if _, err := f.svc.Campaign(ctx, "globex", "inc-1"); code(err) != "unknown-campaign" {
		t.Errorf("other tenant: %v", err)
	}
}

// TestListPurgedAfterKeep: the list and ledger go once the campaign's keep
// ran out (by the scheduled purge message, or the watch); the counts stay.
func TestListPurgedAfterKeep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, viaWatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("watch=%v", viaWatch), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, breachsend.Config{BatchSize: 10, Keep: 48 * time.Hour}, nil)
			f.uploadAndStart(t, "acme", "inc-1", csvList(12))
			q := f.db.Queue()
			// Deliver everything but leave the purge message unhandled.
			for {
				d, err := q.Receive(ctx, queue, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if d == nil {
					break
				}
				if _, err := f.handle(ctx, d.Body); err != nil {
					t.Fatal(err)
				}
				_ = q.Complete(ctx, d)
			}
			_, c := f.progress(t, "acme", "inc-1")
			if n, err := f.svc.Watch(ctx, 10); err != nil || n != 0 {
				t.Fatalf("watch before the keep: %d, %v", n, err)
			}
			f.clock.Add(49 * time.Hour)
			if viaWatch {
				if n, err := f.svc.Watch(ctx, 10); err != nil || n != 1 {
					t.Fatalf("watch: %d, %v", n, err)
				}
			} else {
				f.drain(t)
			}
			rows, err := f.store.Deliveries(ctx, "acme", "inc-1", c.ListID, breachsend.ChannelEmail, c.NoticeVersion, 1, 100)
			if err != nil || len(rows) != 0 {
				t.Fatalf("after the keep: %d rows, %v", len(rows), err)
			}
			p, c := f.progress(t, "acme", "inc-1")
			if diff := cmp.Diff(breachsend.Progress{Total: 12, Sent: 12}, p); diff != "" || c.PurgedAt.IsZero() {
				t.Errorf("progress after purge (-want +got):\n%s purgedAt %v", diff, c.PurgedAt)
			}
			if n, err := f.svc.Watch(ctx, 10); err != nil || n != 0 {
				t.Errorf("a second purge: %d, %v", n, err)
			}
		})
	}
}

// TestWatchPurgesACrashedUpload: rows of an upload a crash cut short (staged,
// never committed) are purged by the watch a day later; a staged record of
// the campaign's own list only loses its record.
func TestWatchPurgesACrashedUpload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, breachsend.Config{}, nil)
	f.notices.set("acme", approved("inc-1"))
	c, err := f.svc.Upload(ctx, "acme", "inc-1", "text/csv", strings.NewReader(csvList(4)), "admin:ada")
	if err != nil {
		t.Fatal(err)
	}
	// What a crash mid-upload leaves: a staged list with rows.
	now := f.clock.Now()
	if err := f.store.StageList(ctx, "acme", "inc-1", "lst_crashed", now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AddRecipients(ctx, "acme", "inc-1", "lst_crashed", 1, []breachsend.Recipient{{Key: "k1", Email: "x@example.com", Language: "en"}}); err != nil {
		t.Fatal(err)
	}
	// A stale record naming the current list must not purge it.
	if err := f.store.StageList(ctx, "acme", "inc-1", c.ListID, now); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.Watch(ctx, 10); err != nil || n != 0 {
		t.Fatalf("watch before the day: %d, %v", n, err)
	}
	f.clock.Add(25 * time.Hour)
	if n, err := f.svc.Watch(ctx, 10); err != nil || n != 1 {
		t.Fatalf("watch: %d, %v; want the crashed upload purged", n, err)
	}
	if n := countRows(t, f); n != 4 {
		t.Errorf("%d rows, want the current list's 4", n)
	}
	if due, _ := f.store.Expired(ctx, f.clock.Now(), 10); len(due) != 0 {
		t.Errorf("left to purge: %v", due)
	}
}

// blockingMailer holds its first mail until released.
type blockingMailer struct {
	mailbox
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (b *blockingMailer) Send(ctx context.Context, m privacy.Mail) error {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return b.mailbox.Send(ctx, m)
}

// TestTwoDeliveriesOfOneBatchNeverMailAtOnce: while one delivery of a batch
// is sending, a second delivery of the same batch (a redelivery, or a batch
// re-planned by a retried start) sends nothing and comes back once the claim
// runs out; every recipient still gets exactly one mail.
func TestTwoDeliveriesOfOneBatchNeverMailAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, breachsend.Config{BatchSize: 10, Concurrency: 2}, nil)
	bm := &blockingMailer{entered: make(chan struct{}), release: make(chan struct{})}
	f.mail = &bm.mailbox
	svc, err := breachsend.New(breachsend.Config{Queue: queue, BatchSize: 10, Concurrency: 2, Keep: time.Hour}, breachsend.Deps{
		Store: f.store, Notices: f.notices, Publisher: f.db.Queue(), Mailer: bm, Key: []byte("0123456789abcdef0123456789abcdef"),
		Now: f.clock.Now, NewID: func() string { return fmt.Sprint(time.Now().UnixNano()) }})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	c := f.uploadAndStart(t, "acme", "inc-1", csvList(10))
	w := breachsend.Work{IncidentID: "inc-1", ListID: c.ListID, Version: c.NoticeVersion, Batch: 0, From: 1, To: 10}
	first := make(chan error, 1)
	go func() { first <- svc.Deliver(ctx, "acme", w) }()
	<-bm.entered
	if err := svc.Deliver(ctx, "acme", w); err != nil {
		t.Fatalf("second delivery: %v", err)
	}
	if n := len(bm.perAddress()); n != 0 {
		t.Errorf("the second delivery mailed %d recipients while the first held the batch", n)
	}
	close(bm.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	want := map[string]int{}
	for i := 1; i <= 10; i++ {
		want[fmt.Sprintf("r%d@example.com", i)] = 1
	}
	if diff := cmp.Diff(want, bm.perAddress()); diff != "" {
		t.Errorf("mails per address (-want +got):\n%s", diff)
	}
}
