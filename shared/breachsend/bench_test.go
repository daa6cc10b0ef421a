package breachsend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/mail"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqlite"
)

// Benchmarks of issue 13's figures (README, "Notifying data subjects"):
//
//	go test ./shared/breachsend/ -run '^$' -bench 'BatchAndEnqueue1M' -benchtime 3x
//	go test ./shared/breachsend/ -run '^$' -bench 'Upload1M' -benchtime 1x
//	go test ./shared/breachsend/ -run '^$' -bench 'DeliverToSMTPSink' -benchtime 3x
//	go test ./shared/breachsend/ -run '^$' -bench 'SinkRawAcceptance' -benchtime 3x
//
// Each on the embedded SQLite store with synchronous=full, as in production.

// benchService wires the fan-out on a SQLite file in a temporary folder.
func benchService(b *testing.B, cfg breachsend.Config, m privacy.Mailer) (*breachsend.Service, *sqlite.DB, *notices) {
	b.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ns := &notices{m: map[string]breachsend.Notice{}}
	cfg.Queue = queue
	if cfg.Keep == 0 {
		cfg.Keep = 30 * 24 * time.Hour
	}
	if m == nil {
		m = &mailbox{}
	}
	var n atomic.Int64
	s, err := breachsend.New(cfg, breachsend.Deps{Store: db.BreachSend(), Notices: ns, Publisher: db.Queue(), Mailer: m,
		Key: []byte("0123456789abcdef0123456789abcdef"), Now: time.Now,
		NewID: func() string { return "b" + strconv.FormatInt(n.Add(1), 10) }})
	if err != nil {
		b.Fatal(err)
	}
	return s, db, ns
}

// BenchmarkBatchAndEnqueue1M: starting a campaign of 1,000,000 recipients
// and running its plan steps until every batch message (ids and ranges only)
// is in the durable queue. Goal: at most 30 s.
func BenchmarkBatchAndEnqueue1M(b *testing.B) {
	const total = 1_000_000
	s, db, ns := benchService(b, breachsend.Config{BatchSize: 500}, nil)
	store := db.BreachSend()
	ctx := context.Background()
	for i := range b.N {
		b.StopTimer()
		incident := "inc-" + strconv.Itoa(i)
		ns.set("acme", approved(incident))
		// The list itself is not read while batching (batches are ranges of
		// ids), so the campaign only needs its count.
		if err := store.PutCampaign(ctx, &breachsend.Campaign{TenantID: "acme", IncidentID: incident, State: breachsend.StateReady,
			ListID: "lst_" + incident, Total: total, UploadedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c, _, err := s.Start(ctx, "acme", incident, "admin:bench")
		if err != nil {
			b.Fatal(err)
		}
		// What the plan messages do, one step after another.
		for k := int64(0); k < c.Batches; k += 200 {
			if err := s.Plan(ctx, "acme", breachsend.Work{IncidentID: incident, ListID: c.ListID, Version: c.NoticeVersion, Batch: k}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		got, err := store.GetCampaign(ctx, "acme", incident)
		if err != nil || got.Enqueued != 2000 {
			b.Fatalf("enqueued %d batches, want 2000 (%v)", got.Enqueued, err)
		}
		counts, _ := db.Queue().Counts(ctx, queue)
		b.ReportMetric(float64(counts.Visible)/float64(i+1), "messages/op")
		b.StartTimer()
	}
}

// genList streams a CSV list of n distinct recipients without holding it.
type genList struct {
	n, i int
	buf  []byte
}

func (g *genList) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.n {
		if g.i == 0 {
			g.buf = append(g.buf, "email,language,name\n"...)
		} else {
			lang := "en"
			if g.i%2 == 0 {
				lang = "zh-CN"
			}
			g.buf = fmt.Appendf(g.buf, "person.%d@example.com,%s,Person %d\n", g.i, lang, g.i)
		}
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// BenchmarkUpload1M: streaming a 1,000,000-line CSV through validation,
// normalisation, keyed dedupe and the store, with the peak RSS of the process.
func BenchmarkUpload1M(b *testing.B) {
	total := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("BREACH_BENCH_UPLOAD")); err == nil {
		total = n // a smaller list, for profiling
	}
	s, _, ns := benchService(b, breachsend.Config{}, nil)
	ctx := context.Background()
	for i := range b.N {
		incident := "inc-" + strconv.Itoa(i)
		ns.set("acme", approved(incident))
		c, err := s.Upload(ctx, "acme", incident, "text/csv", &genList{n: total}, "admin:bench")
		if err != nil {
			b.Fatal(err)
		}
		if c.Total != int64(total) {
			b.Fatalf("stored %d, want %d", c.Total, total)
		}
	}
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

// countingSink is an in-process SMTP server that accepts everything and
// counts it.
type countingSink struct{ n atomic.Int64 }

func (c *countingSink) NewSession(*smtp.Conn) (smtp.Session, error) { return countingSession{c}, nil }

type countingSession struct{ c *countingSink }

func (countingSession) AuthMechanisms() []string             { return nil }
func (countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (countingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (countingSession) Reset()                               {}
func (countingSession) Logout() error                        { return nil }
func (s countingSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.c.n.Add(1)
	return nil
}

func startCountingSink(b *testing.B) (*countingSink, int) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	c := &countingSink{}
	srv := smtp.NewServer(c)
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	go srv.Serve(ln) //nolint:errcheck // returns when closed
	b.Cleanup(func() { srv.Close() })
	return c, ln.Addr().(*net.TCPAddr).Port
}

const benchConnections = 4

func benchPool(b *testing.B, port int) *mail.Pool {
	b.Helper()
	p, err := mail.NewPool(mail.SMTPConfig{Host: "127.0.0.1", Port: port, From: "privacy@example.org", TLS: "none"}, benchConnections)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

// BenchmarkDeliverToSMTPSink: a campaign of 20,000 recipients
// (BREACH_BENCH_DELIVER to change it) delivered end to end (plan, batches
// received from the durable queue by 4 workers as the standalone host runs
// them, 16 senders per batch, each accepted mail recorded before its sender
// goes on) through the breach lane's pool of 4 SMTP connections to an
// in-process sink. Reports
// messages per second and the process's peak RSS. Goal: at least 2,000/s,
// at most 256 MB.
func BenchmarkDeliverToSMTPSink(b *testing.B) {
	total := 20_000
	if n, err := strconv.Atoi(os.Getenv("BREACH_BENCH_DELIVER")); err == nil {
		total = n
	}
	sink, port := startCountingSink(b)
	// As wired: 4 senders per connection in each batch.
	s, db, ns := benchService(b, breachsend.Config{BatchSize: 500, Concurrency: 4 * benchConnections}, benchPool(b, port))
	ctx := context.Background()
	q := db.Queue()
	var sent time.Duration
	for i := range b.N {
		b.StopTimer()
		incident := "inc-" + strconv.Itoa(i)
		ns.set("acme", approved(incident))
		if _, err := s.Upload(ctx, "acme", incident, "text/csv", &genList{n: total}, "admin:bench"); err != nil {
			b.Fatal(err)
		}
		before := sink.n.Load()
		b.StartTimer()
		t0 := time.Now()
		if _, _, err := s.Start(ctx, "acme", incident, "admin:bench"); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		var failed atomic.Value
		for range 4 { // QUEUE_WORKERS
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					d, err := q.Receive(ctx, queue, time.Minute)
					if err != nil {
						failed.Store(err)
						return
					}
					if d == nil {
						return
					}
					if err := handleBench(ctx, s, d.Body); err != nil {
						failed.Store(err)
						return
					}
					if err := q.Complete(ctx, d); err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		sent += time.Since(t0)
		b.StopTimer()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		c, err := s.Campaign(ctx, "acme", incident)
		if err != nil || c.State != breachsend.StateDone || c.Sent != int64(total) || sink.n.Load()-before != int64(total) {
			b.Fatalf("campaign %s sent %d, sink %d; want done with %d (%v)", c.State, c.Sent, sink.n.Load()-before, total, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total*b.N)/sent.Seconds(), "msgs/s")
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

func handleBench(ctx context.Context, s *breachsend.Service, body []byte) error {
	ev, err := privacy.DecodeEvent(body)
	if err != nil {
		return err
	}
	var w breachsend.Work
	if err := json.Unmarshal(ev.Data, &w); err != nil {
		return err
	}
	switch ev.Type {
	case breachsend.EventPlan:
		return s.Plan(ctx, ev.TenantID, w)
	case breachsend.EventBatch:
		return s.Deliver(ctx, ev.TenantID, w)
	}
	return nil // the purge message is scheduled a month ahead: never visible here
}

// BenchmarkSinkRawAcceptance: the same pool of 4 connections sending to the
// same sink with nothing else (no store, no queue, no ledger): the ceiling
// the delivery benchmark is measured against.
func BenchmarkSinkRawAcceptance(b *testing.B) {
	const total = 20_000
	_, port := startCountingSink(b)
	p := benchPool(b, port)
	ctx := context.Background()
	for range b.N {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 4 * 4 * benchConnections { // as many senders as the delivery benchmark's 4 workers have
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > total {
						return
					}
					m := privacy.Mail{ID: "raw-" + strconv.FormatInt(i, 10), To: "person." + strconv.FormatInt(i, 10) + "@example.com",
						Subject: "Notice of Data Breach", Text: "What Happened: ..."}
					if err := p.Send(ctx, m); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// peakRSSMB is the process's peak resident set (VmHWM), in MB.
func peakRSSMB(b *testing.B) float64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Logf("no /proc/self/status: %v", err)
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
