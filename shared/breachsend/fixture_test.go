package breachsend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqlite"
)

const queue = "breach-test"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// notices is a fake NoticeSource.
type notices struct {
	mu sync.Mutex
	m  map[string]breachsend.Notice // by tenant/incident
}

func (n *notices) SubjectNotice(_ context.Context, tenantID, incidentID string) (breachsend.Notice, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.m[tenantID+"/"+incidentID]
	if !ok {
		return breachsend.Notice{}, fmt.Errorf("incident %s: %w", incidentID, privacy.ErrNotFound)
	}
	return v, nil
}

func (n *notices) set(tenantID string, v breachsend.Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.m[tenantID+"/"+v.IncidentID] = v
}

func approved(incident string) breachsend.Notice {
	return breachsend.Notice{IncidentID: incident, Version: 2, Approved: true, ApprovedAt: time.Date(2030, 1, 31, 1, 0, 0, 0, time.UTC),
		Subject: map[string]string{"en": "Notice of Data Breach", "zh-CN": "数据泄露通知"},
		Text:    map[string]string{"en": "What Happened: ...", "zh-CN": "发生了什么：……"}}
}

// mailbox is a fake mailer that records accepted mails; fail decides, per
// mail, an error instead.
type mailbox struct {
	mu   sync.Mutex
	got  []privacy.Mail
	fail func(m privacy.Mail, attempt int) error
	seen map[string]int // attempts per address
}

func (b *mailbox) Send(_ context.Context, m privacy.Mail) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[string]int{}
	}
	b.seen[m.To]++
	if b.fail != nil {
		if err := b.fail(m, b.seen[m.To]); err != nil {
			return err
		}
	}
	b.got = append(b.got, m)
	return nil
}

// perAddress counts accepted mails per address.
func (b *mailbox) perAddress() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for _, m := range b.got {
		out[m.To]++
	}
	return out
}

type fixture struct {
	db      *sqlite.DB
	store   *sqlite.BreachStore
	clock   *clock
	notices *notices
	mail    *mailbox
	svc     *breachsend.Service
	audit   []privacy.AuditEvent
	mu      sync.Mutex
	// cancel stops the message in hand, as a crash would; crashed says it did.
	cancel  context.CancelFunc
	crashed bool
}

// crash stops the message in hand at this step, as a SIGKILL would: nothing
// after it runs, the message is not settled.
func (f *fixture) crash() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashed = true
	f.cancel()
}

func newFixture(tb testing.TB, cfg breachsend.Config, step func(f *fixture, step string)) *fixture {
	tb.Helper()
	f := &fixture{clock: &clock{t: time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)}, notices: &notices{m: map[string]breachsend.Notice{}}, mail: &mailbox{}}
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "t.db"), sqlite.Options{Synchronous: "normal", Now: f.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f.db, f.store = db, db.BreachSend()
	cfg.Queue = queue
	if cfg.Keep == 0 {
		cfg.Keep = 30 * 24 * time.Hour
	}
	n := 0
	f.svc, err = breachsend.New(cfg, breachsend.Deps{Store: f.store, Notices: f.notices, Publisher: db.Queue(), Mailer: f.mail,
		Audit: func(_ context.Context, e *privacy.AuditEvent) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.audit = append(f.audit, *e)
			return nil
		},
		Key: []byte("0123456789abcdef0123456789abcdef"), Now: f.clock.Now,
		NewID: func() string { n++; return fmt.Sprintf("id%d", n) }, Step: func(s string) {
			if step != nil {
				step(f, s)
			}
		}})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// csvList is a CSV list of n recipients r1@example.com ... rn@example.com.
func csvList(n int) string {
	var b strings.Builder
	b.WriteString("email,language,name\n")
	for i := 1; i <= n; i++ {
		lang := "en"
		if i%2 == 0 {
			lang = "zh-CN"
		}
		fmt.Fprintf(&b, "r%d@example.com,%s,Person %d\n", i, lang, i)
	}
	return b.String()
}

// drain delivers the queue's visible messages to the service until none is
// left, as the breachsend function would; a simulated crash (crash) abandons
// the message, which comes back once its lease ran out.
// It returns how many crashes it saw.
func (f *fixture) drain(tb testing.TB) (crashes int) {
	tb.Helper()
	return f.drainUntil(tb, func() bool { return false })
}

// drainUntil is drain that stops early, before the clock moves, once done
// says so.
func (f *fixture) drainUntil(tb testing.TB, done func() bool) (crashes int) {
	tb.Helper()
	ctx := context.Background()
	q := f.db.Queue()
	for range 100000 {
		d, err := q.Receive(ctx, queue, time.Minute)
		if err != nil {
			tb.Fatal(err)
		}
		if d == nil {
			// Nothing visible: let scheduled retries and lost leases come due.
			c, err := q.Counts(ctx, queue)
			if err != nil {
				tb.Fatal(err)
			}
			if c.Visible+c.Leased+c.Delayed == 0 || done() {
				return crashes
			}
			f.clock.Add(time.Hour)
			continue
		}
		crashed, err := f.handle(ctx, d.Body)
		if crashed {
			crashes++
			continue // no settlement: the lease runs out, as after a SIGKILL
		}
		if err != nil {
			if rerr := q.Retry(ctx, d, 0); rerr != nil {
				tb.Fatal(rerr)
			}
			continue
		}
		if err := q.Complete(ctx, d); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Fatal("queue never drained")
	return crashes
}

func (f *fixture) handle(parent context.Context, body []byte) (crashed bool, err error) {
	ctx, cancel := context.WithCancel(parent)
	f.mu.Lock()
	f.cancel, f.crashed = cancel, false
	f.mu.Unlock()
	defer func() {
		cancel()
		f.mu.Lock()
		crashed = f.crashed
		f.mu.Unlock()
	}()
	ev, err := privacy.DecodeEvent(body)
	if err != nil {
		return false, err
	}
	var w breachsend.Work
	if err := json.Unmarshal(ev.Data, &w); err != nil {
		return false, err
	}
	switch ev.Type {
	case breachsend.EventPlan:
		return false, f.svc.Plan(ctx, ev.TenantID, w)
	case breachsend.EventBatch:
		return false, f.svc.Deliver(ctx, ev.TenantID, w)
	case breachsend.EventPurge:
		_, err := f.svc.Purge(ctx, ev.TenantID, w.IncidentID)
		return false, err
	}
	return false, fmt.Errorf("unknown type %s", ev.Type)
}
