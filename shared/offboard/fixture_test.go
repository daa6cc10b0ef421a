package offboard_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/offboard"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqlite"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type nopMailer struct{}

func (nopMailer) Send(context.Context, privacy.Mail) error { return nil }

// crash is the panic a step hook raises to stop a run between two steps.
type crash struct{ step string }

// fixture is the suite on in-memory adapters and a blob folder, with two
// tenants: acme (offboarded by the tests) and initech (never touched).
type fixture struct {
	store *inmem.Store
	queue *inmem.Queue
	blobs *blob.Local
	clock *clock
	svc   *dsr.Service
	off   *offboard.Offboarder
	// The data-subject fan-out on an SQLite file (its only store), sending
	// through the in-memory queue.
	subjects *sqlite.BreachStore
	send     *breachsend.Service

	mu        sync.Mutex
	crashAt   string
	crashSkip int // steps named crashAt to pass before crashing
}

const notice = 30 * 24 * time.Hour

func newFixture(tb testing.TB, pageSize int) *fixture {
	tb.Helper()
	f := &fixture{store: inmem.NewStore(), clock: &clock{t: time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)}}
	f.queue = inmem.NewQueue(inmem.QueueOptions{Now: f.clock.Now})
	var err error
	if f.blobs, err = blob.NewLocal(tb.TempDir()); err != nil {
		tb.Fatal(err)
	}
	f.svc, err = dsr.New(dsr.Config{NoticesQueue: "notices", CodeTTL: 15 * time.Minute, MaxAttempts: 5, OffboardNotice: notice,
		PublicURL: "https://privops.example.com"},
		dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: f.store, Publisher: f.queue, Mailer: nopMailer{}, Blobs: f.blobs, Now: f.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "breach.db"), sqlite.Options{Synchronous: "normal", Now: f.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f.subjects = db.BreachSend()
	sn := 0
	f.send, err = breachsend.New(breachsend.Config{Queue: "breachsend", Keep: 30 * 24 * time.Hour},
		breachsend.Deps{Store: f.subjects, Notices: approvedNotices{}, Publisher: f.queue, Mailer: nopMailer{},
			Audit: f.store.AppendAudit, Key: bytes.Repeat([]byte{3}, 32), Now: f.clock.Now,
			NewID: func() string { f.mu.Lock(); defer f.mu.Unlock(); sn++; return fmt.Sprintf("bs%d", sn) }})
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	f.off, err = offboard.New(offboard.Config{PageSize: pageSize, Budget: time.Hour}, offboard.Deps{
		Store: f.store, Inbound: f.store, Data: f.store, Messages: f.queue, Blobs: f.blobs,
		Subjects: f.subjects, Campaigns: f.send, Notices: func(ctx context.Context, tenantID string, emit func(any) error) error {
			page, err := f.store.ListNotices(ctx, tenantID, "", 200)
			if err != nil {
				return err
			}
			for _, n := range page.Notices {
				if err := emit(n); err != nil {
					return err
				}
			}
			return nil
		},
		Flush: f.svc.FlushTenant, Seal: f.svc.SealCertificate, Open: f.svc.OpenCertificate,
		Link: f.svc.OffboardingLink, CheckLink: f.svc.CheckOffboardingLink,
		NewID: func() string { f.mu.Lock(); defer f.mu.Unlock(); n++; return fmt.Sprintf("aud_test_%06d", n) },
		Now:   f.clock.Now, Logger: slog.New(slog.DiscardHandler),
		Step: func(name string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if name != f.crashAt {
				return
			}
			if f.crashSkip > 0 {
				f.crashSkip--
				return
			}
			f.crashAt = ""
			panic(crash{name})
		}})
	if err != nil {
		tb.Fatal(err)
	}
	for _, id := range []string{"acme", "initech"} {
		f.seed(tb, id)
	}
	return f
}

var ctx = context.Background()

var operatorActor = dsr.Actor{Operator: "olga"}

// approvedNotices is the breach flow's subject notice of every incident,
// approved.
type approvedNotices struct{}

func (approvedNotices) SubjectNotice(_ context.Context, _, incidentID string) (breachsend.Notice, error) {
	return breachsend.Notice{IncidentID: incidentID, Version: 1, Approved: true,
		Subject: map[string]string{"en": "About a breach"}, Text: map[string]string{"en": "What happened."}}, nil
}

// incident is the breach the seeded notices and campaigns are about.
const incident = "inc-offboard"

// seedBreach gives a tenant the breach notice of an incident, and a running
// data-subject campaign of it: three recipients, two of them sent, the plan
// message in the queue, and a staged list an upload left.
func (f *fixture) seedBreach(tb testing.TB, id string) {
	tb.Helper()
	now := f.clock.Now()
	if err := f.store.CreateNotice(ctx, &breach.Notice{TenantID: id, ID: incident, IncidentID: incident, Version: 1,
		CreatedAt: now, UpdatedAt: now, Status: "open"}); err != nil {
		tb.Fatal(err)
	}
	list := "email,language,name\nada@example.com,en,Ada\nbob@example.com,en,Bob\ncy@example.com,zh-CN,Cy\n"
	if _, err := f.send.Upload(ctx, id, incident, "text/csv", strings.NewReader(list), "admin:alice"); err != nil {
		tb.Fatal(err)
	}
	c, _, err := f.send.Start(ctx, id, incident, "admin:alice")
	if err != nil {
		tb.Fatal(err)
	}
	rows, err := f.subjects.Deliveries(ctx, id, incident, c.ListID, breachsend.ChannelEmail, c.NoticeVersion, 1, 2)
	if err != nil || len(rows) != 2 {
		tb.Fatalf("deliveries: %v, %d rows", err, len(rows))
	}
	for _, r := range rows {
		if _, err := f.subjects.Record(ctx, breachsend.LedgerEntry{TenantID: id, IncidentID: incident, RecipientKey: r.Key,
			Channel: breachsend.ChannelEmail, Version: c.NoticeVersion, Status: breachsend.StatusSent, Attempts: 1, At: now, MailID: "m"}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.subjects.StageList(ctx, id, incident, "crashed-upload", now.Add(24*time.Hour)); err != nil {
		tb.Fatal(err)
	}
}

// seed onboards a tenant with a webhook service (it has a signing secret),
// three requests made by an admin, one with an export package in the blob
// store, and the notices those requests queued; and its breach records
// (seedBreach).
func (f *fixture) seed(tb testing.TB, id string) {
	tb.Helper()
	defer f.seedBreach(tb, id)
	if _, err := f.svc.CreateTenant(ctx, dsr.NewTenant{ID: id, TenantSettings: dsr.TenantSettings{Name: "Acme Ltd"}}, operatorActor); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := f.svc.PutService(ctx, id, privacy.Service{ID: "crm", Name: "CRM", Kind: privacy.KindWebhook,
		Actions: []privacy.Action{privacy.ActionExport}, Categories: []privacy.Category{privacy.CategoryProfile},
		Identifiers: []string{"email"}, URL: "https://crm.example.com/privops"}, dsr.Actor{Admin: "alice"}); err != nil {
		tb.Fatal(err)
	}
	for i, email := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
		res, err := f.svc.Submit(ctx, id, dsr.Submission{Type: privacy.TypeAccess, Email: email, Country: "de"}, "", dsr.Actor{Admin: "alice"})
		if err != nil {
			tb.Fatal(err)
		}
		if i > 0 {
			continue
		}
		name := id + "/requests/" + res.Request.ID + "/export.zip"
		if _, err := f.blobs.Put(ctx, name, strings.NewReader("zip bytes")); err != nil {
			tb.Fatal(err)
		}
		r, err := f.store.GetRequest(ctx, id, res.Request.ID)
		if err != nil {
			tb.Fatal(err)
		}
		r.Package = &privacy.Package{Blob: name, Bytes: 9, Files: 1, CreatedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(time.Hour)}
		if err := f.store.UpdateRequest(ctx, r); err != nil {
			tb.Fatal(err)
		}
	}
}

// holdings counts what the suite holds of a tenant, kind by kind.
func (f *fixture) holdings(tb testing.TB, id string) map[string]int {
	tb.Helper()
	out := map[string]int{}
	for _, kind := range []string{privacy.DataKindRequests, privacy.DataKindInbound, privacy.DataKindAudit, privacy.DataKindBreachNotices} {
		n, err := f.store.CountTenantData(ctx, id, kind)
		if err != nil {
			tb.Fatal(err)
		}
		out[kind] = n
	}
	for _, kind := range []string{privacy.DataKindBreachRecipients, privacy.DataKindBreachLedger, privacy.DataKindBreachCampaigns} {
		n, err := f.subjects.CountTenantData(ctx, id, kind)
		if err != nil {
			tb.Fatal(err)
		}
		out[kind] = n
	}
	n, err := f.queue.CountTenantMessages(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	out["messages"] = n
	page, err := f.store.ListRequests(ctx, id, privacy.RequestFilter{Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range page.Requests {
		if r.Package != nil {
			if rc, _, err := f.blobs.Open(ctx, r.Package.Blob); err == nil {
				rc.Close()
				out["blobs"]++
			}
		}
	}
	if _, err := f.store.GetTenant(ctx, id); err == nil {
		out["tenant"] = 1
	}
	return out
}

// run runs the offboarding of acme, recovering a crash of the step hook.
func (f *fixture) run(tb testing.TB) (out offboard.Outcome, crashed string) {
	tb.Helper()
	defer func() {
		if p := recover(); p != nil {
			c, ok := p.(crash)
			if !ok {
				panic(p)
			}
			crashed = c.step
		}
	}()
	out, err := f.off.RunTenant(ctx, "acme")
	if err != nil {
		tb.Fatalf("run: %v", err)
	}
	return out, ""
}

// zipFiles returns the files of a zip and their contents.
func zipFiles(tb testing.TB, r io.Reader) map[string]string {
	tb.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			tb.Fatal(err)
		}
		c, _ := io.ReadAll(rc)
		rc.Close()
		out[zf.Name] = string(c)
	}
	return out
}

// operatorActions returns the operator chain's actions about tenant id.
func (f *fixture) operatorActions(tb testing.TB, id string) []string {
	tb.Helper()
	evs, err := f.store.ListAudit(ctx, privacy.OperatorTenant, 0, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Target == "tenant/"+id {
			out = append(out, e.Action)
		}
	}
	return out
}
