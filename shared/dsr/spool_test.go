package dsr_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// spoolingStore is the auditing in-memory store that also spools mails with
// a created request, as the SQLite store does.
type spoolingStore struct {
	*auditingStore
	smu   sync.Mutex
	spool map[string]privacy.SpooledMail
}

func newSpoolingStore() *spoolingStore {
	return &spoolingStore{auditingStore: &auditingStore{Store: inmem.NewStore()}, spool: map[string]privacy.SpooledMail{}}
}

func (s *spoolingStore) CreateRequestWithMail(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent, mails []privacy.SpooledMail) error {
	s.note("create+audit+mail")
	if err := s.Store.CreateRequest(ctx, r); err != nil {
		return err
	}
	for _, e := range events {
		if err := s.Store.AppendAudit(ctx, e); err != nil {
			return err
		}
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	for _, m := range mails {
		s.spool[m.ID] = m
	}
	return nil
}

func (s *spoolingStore) SpooledMails(_ context.Context, before time.Time, limit int) ([]privacy.SpooledMail, error) {
	s.smu.Lock()
	defer s.smu.Unlock()
	var out []privacy.SpooledMail
	for _, m := range s.spool {
		if m.CreatedAt.Before(before) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b privacy.SpooledMail) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out[:min(len(out), limit)], nil
}

func (s *spoolingStore) DeleteSpooledMails(_ context.Context, ids []string) error {
	s.smu.Lock()
	defer s.smu.Unlock()
	for _, id := range ids {
		delete(s.spool, id)
	}
	return nil
}

func (s *spoolingStore) spooled() []privacy.SpooledMail {
	s.smu.Lock()
	defer s.smu.Unlock()
	var out []privacy.SpooledMail
	for _, m := range s.spool {
		out = append(out, m)
	}
	return out
}

// spoolService returns a service over store with its own clock and mailbox,
// and the demo tenant acme.
func spoolService(tb testing.TB, store *spoolingStore, mail *mailbox, c *clock) *dsr.Service {
	tb.Helper()
	svc, err := dsr.New(dsr.Config{NoticesQueue: queueName, CodeTTL: 15 * time.Minute, MaxAttempts: 5, MaxCodeSends: 3, OutboxLease: time.Minute},
		dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: store, Publisher: inmem.NewQueue(inmem.QueueOptions{}), Mailer: mail, Now: c.Now,
			Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.EnsureTenant(tb.Context(), &privacy.Tenant{ID: "acme", Name: "ACME", Regimes: privacy.Regimes,
		TimeZone: "Europe/Berlin", PIPLDays: 30, DefaultDays: 30}); err != nil {
		tb.Fatal(err)
	}
	return svc
}

// runSpool runs the service's mail spool until the returned stop is called,
// and waits until submissions spool.
func runSpool(tb testing.TB, svc *dsr.Service) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.RunMailSpool(ctx)
	}()
	for t0 := time.Now(); !svc.Spooling(); time.Sleep(time.Millisecond) {
		if time.Since(t0) > 5*time.Second {
			tb.Fatal("the spool did not start")
		}
	}
	return func() {
		cancel()
		<-done
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for t0 := time.Now(); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Since(t0) > 5*time.Second {
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

// While the spool runs, a portal submission is one write that holds the
// request, its audit entry and its code mail, sealed (neither the address nor
// the code readable in the store); the mail is sent after the answer and then
// leaves the spool, and its code verifies the request.
func TestCodeMailSpooledWithTheRequest(t *testing.T) {
	t.Parallel()
	store, mail := newSpoolingStore(), &mailbox{}
	c := &clock{t: time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)}
	svc := spoolService(t, store, mail, c)
	defer runSpool(t, svc)()
	store.writes = nil
	res, err := svc.Submit(t.Context(), "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"create+audit+mail"}, store.writes); diff != "" {
		t.Errorf("submission writes (-want +got):\n%s", diff)
	}
	waitFor(t, "the code mail", func() bool { return len(mail.Mails()) == 1 })
	waitFor(t, "the spool to empty", func() bool { return len(store.spooled()) == 0 })
	m := mail.Mails()[0]
	if want := res.Request.ID + "-code-1"; m.ID != want || m.To != validSubmission().Email {
		t.Errorf("mail id %q to %q, want %q to the subject", m.ID, m.To, want)
	}
	if _, err := svc.Verify(t.Context(), "acme", res.Request.ID, mail.lastCode(t)); err != nil {
		t.Errorf("verify with the spooled code: %v", err)
	}
}

// What a process left in the spool (it died, or its sends failed) is sent
// once by the next process's spool when it starts, and a spooled row never
// shows the address or the code.
func TestSpoolSendsWhatAnEarlierProcessLeft(t *testing.T) {
	t.Parallel()
	store := newSpoolingStore()
	c := &clock{t: time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)}
	down := &mailbox{Fail: true}
	first := spoolService(t, store, down, c)
	stop := runSpool(t, first)
	res, err := first.Submit(t.Context(), "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the failed send
	stop()
	rows := store.spooled()
	if len(rows) != 1 {
		t.Fatalf("%d spooled rows after a failed send, want 1", len(rows))
	}
	if bytes.Contains(rows[0].Sealed, []byte(validSubmission().Email)) || strings.Contains(string(rows[0].Sealed), "code") {
		t.Error("the spooled row shows the mail in clear")
	}

	c.Add(time.Second)
	mail := &mailbox{}
	second := spoolService(t, store, mail, c)
	defer runSpool(t, second)()
	waitFor(t, "the left mail", func() bool { return len(mail.Mails()) == 1 && len(store.spooled()) == 0 })
	if got, want := mail.Mails()[0].ID, res.Request.ID+"-code-1"; got != want {
		t.Errorf("sent %q, want %q", got, want)
	}
	if _, err := second.Verify(t.Context(), "acme", res.Request.ID, mail.lastCode(t)); err != nil {
		t.Errorf("verify with the re-driven code: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(mail.Mails()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}
}
