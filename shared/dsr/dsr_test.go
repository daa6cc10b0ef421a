package dsr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mailbox records mails; Fail makes Send fail transiently.
type mailbox struct {
	mu   sync.Mutex
	sent []privacy.Mail
	Fail bool
}

func (m *mailbox) Send(_ context.Context, mail privacy.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail {
		return privacy.ErrUnavailable
	}
	m.sent = append(m.sent, mail)
	return nil
}

func (m *mailbox) Mails() []privacy.Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]privacy.Mail(nil), m.sent...)
}

var codeRe = regexp.MustCompile(`Your code is (\d{6})`)

// lastCode returns the code of the last code mail.
func (m *mailbox) lastCode(tb testing.TB) string {
	tb.Helper()
	ms := m.Mails()
	for i := len(ms) - 1; i >= 0; i-- {
		if c := codeRe.FindStringSubmatch(ms[i].Text); c != nil {
			return c[1]
		}
	}
	tb.Fatal("no code mail")
	return ""
}

// failingPublisher fails while Fail is set.
type failingPublisher struct {
	privacy.Publisher
	mu   sync.Mutex
	Fail bool
}

func (p *failingPublisher) Publish(ctx context.Context, q string, msgs ...privacy.OutMessage) error {
	p.mu.Lock()
	fail := p.Fail
	p.mu.Unlock()
	if fail {
		return privacy.ErrUnavailable
	}
	return p.Publisher.Publish(ctx, q, msgs...)
}

type fixture struct {
	svc   *dsr.Service
	store *inmem.Store
	queue *inmem.Queue
	pub   *failingPublisher
	mail  *mailbox
	clock *clock
	logs  *bytes.Buffer
}

const queueName = "notices"

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	return newFixtureWith(tb, nil)
}

// newFixtureWith is newFixture with its service's configuration changed by
// with (nil: as is).
func newFixtureWith(tb testing.TB, with func(*dsr.Config)) *fixture {
	tb.Helper()
	f := &fixture{store: inmem.NewStore(), mail: &mailbox{}, logs: &bytes.Buffer{},
		clock: &clock{t: time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)}}
	f.queue = inmem.NewQueue(inmem.QueueOptions{Now: f.clock.Now})
	f.pub = &failingPublisher{Publisher: f.queue}
	cfg := dsr.Config{NoticesQueue: queueName, CodeTTL: 15 * time.Minute, MaxAttempts: 5, MaxCodeSends: 3, OutboxLease: time.Minute}
	if with != nil {
		with(&cfg)
	}
	svc, err := dsr.New(cfg,
		dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: f.store, Publisher: f.pub, Mailer: f.mail, Now: f.clock.Now,
			Logger: slog.New(slog.NewJSONHandler(&syncWriter{b: f.logs}, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	f.svc = svc
	for _, id := range []string{"acme", "globex"} {
		t := &privacy.Tenant{ID: id, Name: strings.ToUpper(id), Regimes: privacy.Regimes, Establishment: []string{privacy.RegimeEUGDPR},
			TimeZone: "Europe/Berlin", PIPLDays: 30, DefaultDays: 30}
		if _, err := svc.EnsureTenant(context.Background(), t); err != nil {
			tb.Fatal(err)
		}
	}
	return f
}

type syncWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

var ctx = context.Background()

func validSubmission() dsr.Submission {
	return dsr.Submission{Type: privacy.TypeAccess, Email: "ada@example.com", Country: "de"}
}

// submitVerified submits and verifies a request.
func (f *fixture) submitVerified(tb testing.TB, tenant string) *privacy.Request {
	tb.Helper()
	res, err := f.svc.Submit(ctx, tenant, validSubmission(), "", dsr.Actor{})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := f.svc.Verify(ctx, tenant, res.Request.ID, f.mail.lastCode(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// notices returns the notices queued, in order.
func (f *fixture) notices(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for {
		d, err := f.queue.Receive(ctx, queueName, time.Minute)
		if err != nil {
			tb.Fatal(err)
		}
		if d == nil {
			return out
		}
		ev, err := privacy.DecodeEvent(d.Body)
		if err != nil {
			tb.Fatal(err)
		}
		var data privacy.NoticeData
		_ = json.Unmarshal(ev.Data, &data)
		out = append(out, data.Notice)
		if err := f.svc.SendNotice(ctx, ev, data); err != nil {
			tb.Fatal(err)
		}
		if err := f.queue.Complete(ctx, d); err != nil {
			tb.Fatal(err)
		}
	}
}

func (f *fixture) auditActions(tb testing.TB, tenant string) []string {
	tb.Helper()
	evs, err := f.store.ListAudit(ctx, tenant, 0, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

func code(err error) string {
	if e, ok := privacy.AsError(err); ok {
		return e.Code
	}
	if err != nil {
		return "non-user-error: " + err.Error()
	}
	return ""
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Request
	if r.Status != privacy.StatusAwaitingVerification || !f.svc.CheckToken("acme", r.ID, res.Token) {
		t.Fatalf("status %s, token ok %v", r.Status, f.svc.CheckToken("acme", r.ID, res.Token))
	}
	// Received 31 Jan 2030 (Berlin): GDPR one month, clamped to 28 Feb 2030.
	if got, want := r.Due.At.In(time.UTC).Format(time.DateOnly), "2030-02-28"; got != want || r.Due.Regime != privacy.RegimeEUGDPR {
		t.Errorf("due %s under %s, want %s under eu-gdpr", got, r.Due.Regime, want)
	}
	if _, err := f.svc.Verify(ctx, "acme", r.ID, f.mail.lastCode(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, "acme", r.ID, dsr.Actor{Admin: "alice"}); err != nil {
		t.Fatal(err)
	}
	// The tenant has no services: nothing holds the subject's data, so the
	// request completes in the approval's own write.
	if got, want := f.notices(t), []string{privacy.NoticeVerified, privacy.NoticeApproved, privacy.NoticeCompleted}; !cmp.Equal(got, want) {
		t.Errorf("notices %v, want %v", got, want)
	}
	want := []string{"tenant.created", "request.submitted", "request.verified", "request.approved", "request.fanned-out", "request.completed"}
	if diff := cmp.Diff(want, f.auditActions(t, "acme")); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	rep, err := f.svc.VerifyAudit(ctx, "acme")
	if err != nil || !rep.Valid || rep.Events != 6 {
		t.Errorf("audit chain %+v, %v", rep, err)
	}
	got, _ := f.svc.Get(ctx, "acme", r.ID)
	if len(got.Outbox) != 0 || len(got.Notices) != 3 || got.Status != privacy.StatusCompleted {
		t.Errorf("outbox %d, notices %d, status %s; want 0, 3, completed", len(got.Outbox), len(got.Notices), got.Status)
	}
}

func TestSubmitRejectsBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tenant string
		mutate func(*dsr.Submission)
		want   string
	}{
		{"unknown tenant", "nope", func(*dsr.Submission) {}, "unknown-tenant"},
		{"malformed tenant id", "../x", func(*dsr.Submission) {}, "unknown-tenant"},
		{"bad type", "acme", func(s *dsr.Submission) { s.Type = "delete-everything" }, "invalid-type"},
		{"bad email", "acme", func(s *dsr.Submission) { s.Email = "not-an-email" }, "invalid-email"},
		{"display name", "acme", func(s *dsr.Submission) { s.Email = "Ada <ada@example.com>" }, "invalid-email"},
		{"no dot in domain", "acme", func(s *dsr.Submission) { s.Email = "ada@localhost" }, "invalid-email"},
		{"long email", "acme", func(s *dsr.Submission) { s.Email = strings.Repeat("a", 250) + "@x.com" }, "invalid-email"},
		{"bad country", "acme", func(s *dsr.Submission) { s.Country = "Germany" }, "invalid-country"},
		{"a country code no country has", "acme", func(s *dsr.Submission) { s.Country = "XX" }, "invalid-country"},
		{"the reserved UK", "acme", func(s *dsr.Submission) { s.Country = "UK" }, "invalid-country"},
		{"bad region", "acme", func(s *dsr.Submission) { s.Country, s.Region = "US", "California" }, "invalid-region"},
		{"unknown category", "acme", func(s *dsr.Submission) { s.Categories = []privacy.Category{"dreams"} }, "invalid-category"},
		{"rectify logs", "acme", func(s *dsr.Submission) {
			s.Type, s.Categories = privacy.TypeRectify, []privacy.Category{privacy.CategorySystemLogs}
			s.Changes = []privacy.FieldChange{{Field: "name", Value: "A"}}
		}, "unsupported-for-category"},
		{"restrict logs", "acme", func(s *dsr.Submission) {
			s.Type, s.Categories = privacy.TypeRestrict, []privacy.Category{privacy.CategorySystemLogs}
		}, "unsupported-for-category"},
		{"rectify without changes", "acme", func(s *dsr.Submission) { s.Type = privacy.TypeRectify }, "changes-required"},
		{"changes on access", "acme", func(s *dsr.Submission) { s.Changes = []privacy.FieldChange{{Field: "a", Value: "b"}} }, "unexpected-changes"},
		{"bad change field", "acme", func(s *dsr.Submission) {
			s.Type, s.Changes = privacy.TypeRectify, []privacy.FieldChange{{Field: "../etc", Value: "b"}}
		}, "invalid-change"},
		{"unknown language", "acme", func(s *dsr.Submission) { s.Language = "fr" }, "invalid-language"},
		{"traditional chinese, not offered", "acme", func(s *dsr.Submission) { s.Language = "zh-TW" }, "invalid-language"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			sub := validSubmission()
			tc.mutate(&sub)
			_, err := f.svc.Submit(ctx, tc.tenant, sub, "", dsr.Actor{})
			if got := code(err); got != tc.want {
				t.Errorf("code %q, want %q", got, tc.want)
			}
			page, _ := f.store.ListRequests(ctx, "acme", privacy.RequestFilter{Limit: 10})
			if len(page.Requests) != 0 || len(f.mail.Mails()) != 0 {
				t.Errorf("bad input wrote %d requests and %d mails", len(page.Requests), len(f.mail.Mails()))
			}
		})
	}
}

func TestLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.pub.Fail = true // force warning logs on the flush path too
	sub := validSubmission()
	sub.Email = "grace.hopper@navy.example"
	res, err := f.svc.Submit(ctx, "acme", sub, "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	f.mail.Fail = true
	_ = f.svc.Resend(ctx, "acme", res.Request.ID)
	if f.logs.Len() == 0 {
		t.Fatal("expected some logs to scan")
	}
	for _, needle := range []string{"grace.hopper", "navy.example"} {
		if strings.Contains(f.logs.String(), needle) {
			t.Errorf("logs contain personal data %q:\n%s", needle, f.logs.String())
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(f *fixture, id string) string // returns the code to try
		want  []string                           // codes of successive attempts
	}{
		{"right code", func(f *fixture, _ string) string { return f.mail.lastCode(t) }, []string{""}},
		{"replayed code", func(f *fixture, _ string) string { return f.mail.lastCode(t) }, []string{"", "already-verified"}},
		{"malformed code", func(*fixture, string) string { return "12ab56" }, []string{"invalid-code"}},
		{"expired code", func(f *fixture, _ string) string { f.clock.Add(16 * time.Minute); return f.mail.lastCode(t) }, []string{"code-expired"}},
		{"too many attempts", func(f *fixture, _ string) string { return wrong(f.mail.lastCode(t)) },
			[]string{"wrong-code", "wrong-code", "wrong-code", "wrong-code", "wrong-code", "too-many-attempts"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
			if err != nil {
				t.Fatal(err)
			}
			c := tc.setup(f, res.Request.ID)
			var got []string
			for range tc.want {
				_, err := f.svc.Verify(ctx, "acme", res.Request.ID, c)
				got = append(got, code(err))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("after too many attempts the right code fails too", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res, _ := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
		right := f.mail.lastCode(t)
		for range 5 {
			_, _ = f.svc.Verify(ctx, "acme", res.Request.ID, wrong(right))
		}
		if _, err := f.svc.Verify(ctx, "acme", res.Request.ID, right); code(err) != "too-many-attempts" {
			t.Errorf("got %q", code(err))
		}
	})
	t.Run("wrong tenant sees nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res, _ := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
		if _, err := f.svc.Verify(ctx, "globex", res.Request.ID, f.mail.lastCode(t)); code(err) != "unknown-request" {
			t.Errorf("got %q", code(err))
		}
		if f.svc.CheckToken("globex", res.Request.ID, res.Token) {
			t.Error("a token of acme is accepted for globex")
		}
	})
}

func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func TestResend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, _ := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	first := f.mail.lastCode(t)
	var got []string
	for range 3 {
		got = append(got, code(f.svc.Resend(ctx, "acme", res.Request.ID)))
	}
	if diff := cmp.Diff([]string{"", "", "too-many-codes"}, got); diff != "" {
		t.Errorf("resends (-want +got):\n%s", diff)
	}
	if latest := f.mail.lastCode(t); latest != first {
		if _, err := f.svc.Verify(ctx, "acme", res.Request.ID, first); code(err) != "wrong-code" {
			t.Errorf("an old code still works: %q", code(err))
		}
	}
	if _, err := f.svc.Verify(ctx, "acme", res.Request.ID, f.mail.lastCode(t)); err != nil {
		t.Errorf("latest code: %v", err)
	}
}

func TestIdempotentSubmission(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, err := f.svc.Submit(ctx, "acme", validSubmission(), "key-1", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Submit(ctx, "acme", validSubmission(), "key-1", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Replay || a.Request.ID != b.Request.ID || a.Token != b.Token {
		t.Errorf("replay %v, ids %s %s", b.Replay, a.Request.ID, b.Request.ID)
	}
	other := validSubmission()
	other.Type = privacy.TypeErase
	if _, err := f.svc.Submit(ctx, "acme", other, "key-1", dsr.Actor{}); code(err) != "idempotency-key-reused" {
		t.Errorf("reused key: %q", code(err))
	}
	// The same key in another tenant is another request.
	c, err := f.svc.Submit(ctx, "globex", validSubmission(), "key-1", dsr.Actor{})
	if err != nil || c.Replay {
		t.Errorf("other tenant: replay %v, %v", c != nil && c.Replay, err)
	}
	page, _ := f.store.ListRequests(ctx, "acme", privacy.RequestFilter{Limit: 10})
	if len(page.Requests) != 1 {
		t.Errorf("%d requests stored, want 1", len(page.Requests))
	}
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	admin := dsr.Actor{Admin: "alice"}
	cases := []struct {
		name string
		act  func(f *fixture, id string) error
		want string
	}{
		{"approve", func(f *fixture, id string) error { _, err := f.svc.Approve(ctx, "acme", id, admin); return err }, ""},
		{"approve twice", func(f *fixture, id string) error {
			_, _ = f.svc.Approve(ctx, "acme", id, admin)
			_, err := f.svc.Approve(ctx, "acme", id, admin)
			return err
		}, "invalid-transition"},
		{"deny without reason", func(f *fixture, id string) error { _, err := f.svc.Deny(ctx, "acme", id, admin, "  "); return err }, "reason-required"},
		{"deny", func(f *fixture, id string) error {
			_, err := f.svc.Deny(ctx, "acme", id, admin, "manifestly unfounded")
			return err
		}, ""},
		{"cancel then approve", func(f *fixture, id string) error {
			_, _ = f.svc.Cancel(ctx, "acme", id, admin, "")
			_, err := f.svc.Approve(ctx, "acme", id, admin)
			return err
		}, "invalid-transition"},
		{"other tenant", func(f *fixture, id string) error { _, err := f.svc.Approve(ctx, "globex", id, admin); return err }, "unknown-request"},
		{"extend without reason", func(f *fixture, id string) error { _, err := f.svc.Extend(ctx, "acme", id, admin, ""); return err }, "reason-required"},
		{"extend", func(f *fixture, id string) error {
			_, err := f.svc.Extend(ctx, "acme", id, admin, "complex request")
			return err
		}, ""},
		{"extend twice", func(f *fixture, id string) error {
			_, _ = f.svc.Extend(ctx, "acme", id, admin, "complex")
			_, err := f.svc.Extend(ctx, "acme", id, admin, "again")
			return err
		}, "already-extended"},
		{"extend after the first period", func(f *fixture, id string) error {
			f.clock.Add(40 * 24 * time.Hour)
			_, err := f.svc.Extend(ctx, "acme", id, admin, "too late")
			return err
		}, "extension-window-closed"},
		{"extend a closed request", func(f *fixture, id string) error {
			_, _ = f.svc.Deny(ctx, "acme", id, admin, "no")
			_, err := f.svc.Extend(ctx, "acme", id, admin, "x")
			return err
		}, "request-closed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			r := f.submitVerified(t, "acme")
			before := len(f.auditActions(t, "acme"))
			err := tc.act(f, r.ID)
			if got := code(err); got != tc.want {
				t.Fatalf("code %q, want %q", got, tc.want)
			}
			if tc.want != "" && strings.HasPrefix(tc.name, "deny without") && len(f.auditActions(t, "acme")) != before {
				t.Error("a refused decision was audited")
			}
		})
	}
}

func TestExtensionCountsFromTheNotice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.submitVerified(t, "acme")
	if _, err := f.svc.Extend(ctx, "acme", r.ID, dsr.Actor{Admin: "alice"}, "many systems"); err != nil {
		t.Fatal(err)
	}
	pending, _ := f.svc.Get(ctx, "acme", r.ID)
	if pending.Due.Extended {
		t.Fatal("extended before the notice was sent")
	}
	f.notices(t)
	got, _ := f.svc.Get(ctx, "acme", r.ID)
	// Received 31 Jan 2030: extension = three months from the start → 30 Apr (ICO method).
	if !got.Due.Extended || got.Extension.NoticedAt.IsZero() || got.Due.At.Format(time.DateOnly) != "2030-04-30" {
		t.Errorf("due %+v, noticed %v", got.Due, got.Extension.NoticedAt)
	}
	mails := f.mail.Mails()
	if last := mails[len(mails)-1]; !strings.Contains(last.Text, "many systems") || !strings.Contains(last.Text, "30 April 2030") {
		t.Errorf("extension notice text:\n%s", last.Text)
	}
}

func TestOutboxSurvivesAFailedPublish(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.pub.Fail = true
	r := f.submitVerified(t, "acme") // verified notice cannot be published
	stored, _ := f.svc.Get(ctx, "acme", r.ID)
	if len(stored.Outbox) == 0 {
		t.Fatal("the unpublished notice is not kept in the outbox")
	}
	// Not yet past the lease: the watch leaves it to the request's own flush.
	if n, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil || n != 0 {
		t.Fatalf("early redrive flushed %d (%v)", n, err)
	}
	f.pub.Fail = false
	f.clock.Add(2 * time.Minute)
	for range 2 { // twice: the second run finds nothing left
		if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.notices(t); !cmp.Equal(got, []string{privacy.NoticeVerified}) {
		t.Errorf("notices %v", got)
	}
	if diff := cmp.Diff([]string{"tenant.created", "request.submitted", "request.verified"}, f.auditActions(t, "acme")); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestNoticeIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submitVerified(t, "acme")
	d, _ := f.queue.Receive(ctx, queueName, time.Minute)
	ev, _ := privacy.DecodeEvent(d.Body)
	var data privacy.NoticeData
	_ = json.Unmarshal(ev.Data, &data)
	before := len(f.mail.Mails())
	for range 3 {
		if err := f.svc.SendNotice(ctx, ev, data); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.mail.Mails()) - before; got != 1 {
		t.Errorf("%d mails for one notice delivered three times", got)
	}
	data.RequestID = "dsr_missing"
	if err := f.svc.SendNotice(ctx, ev, data); !errors.Is(err, dsr.ErrPermanent) {
		t.Errorf("unknown request: %v, want ErrPermanent", err)
	}
}

func TestConcurrentDecisionsResolveToOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.submitVerified(t, "acme")
	var wg sync.WaitGroup
	results := make(chan string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				_, err = f.svc.Approve(ctx, "acme", r.ID, dsr.Actor{Admin: "a"})
			} else {
				_, err = f.svc.Deny(ctx, "acme", r.ID, dsr.Actor{Admin: "b"}, "no")
			}
			results <- code(err)
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for c := range results {
		switch c {
		case "":
			ok++
		case "invalid-transition":
		default:
			t.Errorf("unexpected %q", c)
		}
	}
	if ok != 1 {
		t.Errorf("%d decisions succeeded, want exactly 1", ok)
	}
	decided := 0
	for _, a := range f.auditActions(t, "acme") {
		if a == "request.approved" || a == "request.denied" {
			decided++
		}
	}
	if decided != 1 {
		t.Errorf("%d decisions audited, want 1", decided)
	}
}

func TestSubmitOnBehalf(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{Admin: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Request
	if r.Status != privacy.StatusAwaitingDecision || r.SubmittedBy != "alice" || r.Channel != privacy.ChannelAdmin || r.IdentityVerifiedAt.IsZero() {
		t.Errorf("got status %s by %q via %s", r.Status, r.SubmittedBy, r.Channel)
	}
	if n := len(f.mail.Mails()); n != 0 {
		t.Errorf("%d code mails for an admin submission", n)
	}
	evs, _ := f.store.ListAudit(ctx, "acme", 1, 10)
	if len(evs) == 0 || evs[0].Actor != "admin:alice" {
		t.Errorf("audit %+v", evs)
	}
}

func TestMailOutageAtIntake(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mail.Fail = true
	_, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	if code(err) != "mail-unavailable" {
		t.Fatalf("got %q", code(err))
	}
}

// TestNewCodeAfterLockout: a locked verification is no dead end. A new code
// gets a fresh budget of wrong attempts, bounded by the codes that can be
// sent; once none can, the message says what the subject can do instead.
func TestNewCodeAfterLockout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Request.ID
	lockOut := func() error {
		right := f.mail.lastCode(t)
		for range 5 {
			_, _ = f.svc.Verify(ctx, "acme", id, wrong(right))
		}
		_, err := f.svc.Verify(ctx, "acme", id, right)
		return err
	}
	var got []string
	for range 3 { // three codes: the first and two resends
		err := lockOut()
		got = append(got, code(err)+": "+msg(err))
		if rerr := f.svc.Resend(ctx, "acme", id); rerr != nil {
			got = append(got, "resend "+code(rerr))
		}
	}
	want := []string{
		"too-many-attempts: too many wrong codes; ask for a new code",
		"too-many-attempts: too many wrong codes; ask for a new code",
		"too-many-attempts: too many wrong codes; no more codes can be sent for this request; submit a new request",
		"resend too-many-codes",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lockouts (-want +got):\n%s", diff)
	}
	// A new code after a lockout verifies.
	f2 := newFixture(t)
	res, _ = f2.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	for range 5 {
		_, _ = f2.svc.Verify(ctx, "acme", res.Request.ID, wrong(f2.mail.lastCode(t)))
	}
	if err := f2.svc.Resend(ctx, "acme", res.Request.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := f2.svc.Verify(ctx, "acme", res.Request.ID, f2.mail.lastCode(t)); err != nil || r.Status != privacy.StatusAwaitingDecision {
		t.Errorf("the new code after a lockout: %v", err)
	}
}

func msg(err error) string {
	if e, ok := privacy.AsError(err); ok {
		return e.Message
	}
	return ""
}
