package sqlite

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// The benchmarks report committed operations per second for each synchronous
// mode. BenchmarkRawInsert is the floor of the file system: one single-row
// autocommit INSERT, with the same pragmas. BenchmarkCreateRequest is what a
// portal submission costs: a request document and its audit event, two commits.
var syncModes = []string{"full", "normal"}

func openBench(b *testing.B, mode string) *DB {
	b.Helper()
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: mode})
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func reportOpsPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkRawInsert(b *testing.B) {
	for _, mode := range syncModes {
		b.Run("synchronous="+mode, func(b *testing.B) {
			db := openBench(b, mode)
			if _, err := db.w.ExecContext(b.Context(), "CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := db.w.ExecContext(b.Context(), "INSERT INTO scratch (v) VALUES (?)", "x"); err != nil {
					b.Fatal(err)
				}
			}
			reportOpsPerSecond(b)
		})
	}
}

func BenchmarkCreateRequest(b *testing.B) {
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	for _, mode := range syncModes {
		b.Run("synchronous="+mode, func(b *testing.B) {
			s := openBench(b, mode).Store()
			i := 0
			for b.Loop() {
				i++
				id := fmt.Sprintf("req-%08d", i)
				r := benchRequest("acme", id, at.Add(time.Duration(i)*time.Second))
				if err := s.CreateRequest(b.Context(), r); err != nil {
					b.Fatal(err)
				}
				e := &privacy.AuditEvent{ID: "aud-" + id, TenantID: "acme", At: r.CreatedAt, Actor: "subject",
					Action: "request.submitted", Target: "request/" + id, SubjectHash: r.SubjectHash}
				if err := s.AppendAudit(b.Context(), e); err != nil {
					b.Fatal(err)
				}
			}
			reportOpsPerSecond(b)
		})
	}
}

// benchRequest is a request as the portal stores it on submission.
func benchRequest(tenant, id string, at time.Time) *privacy.Request {
	return &privacy.Request{ID: id, TenantID: tenant, Type: privacy.TypeExport,
		Status: privacy.StatusAwaitingVerification, Channel: privacy.ChannelPortal,
		IdempotencyKeyHash: "3b1f0c4e77aa19d2", BodyHash: "77aa19d23b1f0c4e",
		Subject:     privacy.Subject{Email: "subject@example.org", Country: "DE"},
		SubjectHash: "0c4e77aa19d23b1f0c4e77aa19d23b1f", Categories: []privacy.Category{privacy.CategoryProfile},
		Verification: privacy.Verification{CodeHash: "19d23b1f0c4e77aa", ExpiresAt: at.Add(15 * time.Minute), Sends: 1},
		ReceivedAt:   at, Due: privacy.Due{At: at.AddDate(0, 1, 0), Regime: privacy.RegimeEUGDPR, Rule: "GDPR Art. 12(3)",
			InitialAt: at.AddDate(0, 1, 0)},
		Outbox:    []privacy.OutboxEvent{{ID: "evt-" + id, At: at}},
		CreatedAt: at, UpdatedAt: at}
}

// BenchmarkIntakeWrites is the store's part of one portal submission: the
// request created with its outbox (the audit event), the audit event
// appended, and the outbox cleared, one after the other, as dsr.Submit does.
// "serial" runs one submission at a time; "32-concurrent" runs 32 goroutines,
// so the group commit merges their writes. Each op is one submission.
func BenchmarkIntakeWrites(b *testing.B) {
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	for _, par := range []int{1, 32} {
		name := "serial"
		if par > 1 {
			name = fmt.Sprintf("%d-concurrent", par)
		}
		b.Run(name, func(b *testing.B) {
			s := openBench(b, "full").Store()
			var seq atomic.Int64
			b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0)))
			run := func() {
				i := seq.Add(1)
				id := fmt.Sprintf("req-%08d", i)
				r := benchRequest("acme", id, at.Add(time.Duration(i)*time.Second))
				e := privacy.AuditEvent{ID: "aud-" + id, TenantID: "acme", At: r.CreatedAt, Actor: "subject",
					Action: "request.submitted", Target: "request/" + id, SubjectHash: r.SubjectHash,
					Details: map[string]string{"type": "export", "channel": "portal", "dueRegime": "eu-gdpr"}}
				r.Outbox = []privacy.OutboxEvent{{ID: "evt-" + id, At: at, Audit: &e}}
				if err := s.CreateRequest(b.Context(), r); err != nil {
					b.Fatal(err)
				}
				if err := s.AppendAudit(b.Context(), &e); err != nil {
					b.Fatal(err)
				}
				r.Outbox = nil
				if err := s.UpdateRequest(b.Context(), r); err != nil {
					b.Fatal(err)
				}
			}
			cpu0 := cpuTime()
			if par == 1 {
				for b.Loop() {
					run()
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						run()
					}
				})
			}
			reportOpsPerSecond(b)
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the user and system time this process has used: unlike ops/s it
// barely moves with what else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSubmissionWrite is the store's part of one portal submission as
// dsr.Submit makes it with the embedded store: one write holding the request,
// its audit event and its sealed code mail (CreateRequestWithMail), from 32
// goroutines so the group commit batches them. cpu-µs/op is the process's
// CPU per submission: the figure to compare, since ops/s moves with the
// disk's fsync rate.
func BenchmarkSubmissionWrite(b *testing.B) {
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	s := openBench(b, "full").Store()
	var seq atomic.Int64
	sealed := make([]byte, 700) // about a sealed code mail
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			id := fmt.Sprintf("req-%08d", i)
			r := benchRequest("acme", id, at.Add(time.Duration(i)*time.Second))
			e := &privacy.AuditEvent{ID: "aud-" + id, TenantID: "acme", At: r.CreatedAt, Actor: "subject",
				Action: "request.submitted", Target: "request/" + id, SubjectHash: r.SubjectHash,
				Details: map[string]string{"type": "export", "channel": "portal", "dueRegime": "eu-gdpr"}}
			m := privacy.SpooledMail{ID: "mail-" + id, TenantID: "acme", CreatedAt: r.CreatedAt, Sealed: sealed}
			if err := s.CreateRequestWithMail(b.Context(), r, []*privacy.AuditEvent{e}, []privacy.SpooledMail{m}); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportOpsPerSecond(b)
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
