package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/sqlite"
)

// Retention benchmarks. Run with:
//
//	go test -run '^$' -bench 'Retention' -benchtime 1x ./functions/
//
// PRIVOPS_RETENTION_BENCH_ITEMS sets the number of expired items (default
// 1,000,000), spread over 10 tenants; 5 % of them belong to 20 subjects per
// tenant under a legal hold. RETENTION_PAGE_SIZE, RETENTION_PAGE_PAUSE_MS,
// RETENTION_BUDGET, QUEUE_WORKERS and SQLITE_SYNCHRONOUS, when set, are passed
// to the binary.

const retentionBenchTenants = 10

var benchSecret = bytes.Repeat([]byte{5}, 32)

func retentionBenchItems(tb testing.TB) int {
	tb.Helper()
	if v := os.Getenv("PRIVOPS_RETENTION_BENCH_ITEMS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < retentionBenchTenants*20 {
			tb.Fatalf("PRIVOPS_RETENTION_BENCH_ITEMS=%q: want an integer of at least 200", v)
		}
		return n
	}
	return 1_000_000
}

// heldEmail is the subject of item j of a tenant when it is held (every 20th item).
func heldEmail(j int) (string, bool) {
	if j%20 != 0 {
		return "", false
	}
	return fmt.Sprintf("held%d@example.com", (j/20)%20), true
}

// loadRetentionBench creates the tenants (a built-in container service, a
// 30-day policy, 20 subject holds each) and n items 100 days old in DATA_DIR's
// SQLite file, inserting in large transactions (not through the store: its
// one-item writes would take longer than the sweep).
func loadRetentionBench(tb testing.TB, dir string, n int) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "privops.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	hasher := privacy.SubjectHasher{Key: derive(benchSecret, "subject-hash")}
	now := time.Now().UTC()
	for k := range retentionBenchTenants {
		id := fmt.Sprintf("tenant-%d", k)
		t := &privacy.Tenant{ID: id, Name: id, CreatedAt: now, UpdatedAt: now,
			Services: []privacy.Service{{ID: "app", Name: "App", Kind: privacy.KindCosmos, Actions: []privacy.Action{privacy.ActionErase},
				Categories: []privacy.Category{privacy.CategoryProfile}, Identifiers: []string{"email"}, Container: "people",
				IdentityPaths: map[string]string{"email": "/email"}, CreatedAt: now, UpdatedAt: now}},
			RetentionPolicies: []privacy.RetentionPolicy{{ID: "people", Category: retention.CategoryCustomer, Scope: retention.ScopeService,
				Service: "app", MaxAgeDays: 30, From: retention.FromCreated, TimestampPath: "/createdAt", Action: retention.ActionDelete,
				CreatedAt: now, UpdatedAt: now}}}
		for h := range 20 {
			t.Holds = append(t.Holds, privacy.Hold{ID: fmt.Sprintf("hold-%d", h), Scope: privacy.HoldSubject,
				SubjectHash: hasher.Hash(id, fmt.Sprintf("held%d@example.com", h)), Reason: "litigation", PlacedBy: "bench", PlacedAt: now})
		}
		t.ApplyDefaults()
		if err := db.Store().CreateTenant(ctx, t); err != nil {
			tb.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	raw, err := sql.Open("sqlite", filepath.Join(dir, "privops.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(normal)")
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	created := now.AddDate(0, 0, -100).Format(time.RFC3339)
	per := n / retentionBenchTenants
	for k := range retentionBenchTenants {
		tx, err := raw.Begin()
		if err != nil {
			tb.Fatal(err)
		}
		stmt, err := tx.Prepare(`INSERT INTO data_items (tenant_id, container, id, doc) VALUES (?, 'people', ?, ?)`)
		if err != nil {
			tb.Fatal(err)
		}
		for j := range per {
			email, held := heldEmail(j)
			if !held {
				email = fmt.Sprintf("u%d@example.com", j)
			}
			// Ids in an order unrelated to the holds: held items are spread over every page.
			id := fmt.Sprintf("%08x-%07d", uint32(j)*2654435761, j)
			doc := `{"id":"` + id + `","email":"` + email + `","createdAt":"` + created + `","name":"Customer ` + strconv.Itoa(j) + `"}`
			if _, err := stmt.Exec(fmt.Sprintf("tenant-%d", k), id, doc); err != nil {
				tb.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
}

// countItems returns the items left and the held ones among them.
func countItems(tb testing.TB, dir string) (left, held int) {
	tb.Helper()
	raw, err := sql.Open("sqlite", filepath.Join(dir, "privops.db"))
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRow(`SELECT count(*), count(*) FILTER (WHERE json_extract(doc, '$.email') LIKE 'held%') FROM data_items`).Scan(&left, &held); err != nil {
		tb.Fatal(err)
	}
	return left, held
}

// intakeAt sends portal submissions open-loop at rate per second until stop
// is closed (or for d when stop is nil) and returns the p50 and p99 latency.
func intakeAt(c *http.Client, url string, rate int, d time.Duration, stop <-chan struct{}) (p50, p99 time.Duration, failed int64) {
	var mu sync.Mutex
	var lat []time.Duration
	var fails atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; ; i++ {
		if stop == nil && time.Since(t0) >= d {
			break
		}
		if stop != nil {
			select {
			case <-stop:
				goto done
			default:
			}
		}
		time.Sleep(time.Until(t0.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		wg.Go(func() {
			l, ok := submitOnce(c, url)
			if !ok {
				fails.Add(1)
			}
			mu.Lock()
			lat = append(lat, l)
			mu.Unlock()
		})
	}
done:
	wg.Wait()
	if len(lat) == 0 {
		return 0, 0, fails.Load()
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], fails.Load()
}

// procHWM reads the peak resident set size of pid (VmHWM) in MB.
func procHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return -1
}

// BenchmarkRetentionSweep sweeps the expired items with the real binary: the
// retention timer fires once, the jobs sweep the 10 tenants. It reports the
// items purged per second (from the first run's start to the last run's end,
// as the runs record them), the binary's peak RSS, the held items touched
// (must be 0), and portal intake latency at 50 requests/s while the sweep
// runs beside the same before it starts.
func BenchmarkRetentionSweep(b *testing.B) {
	n := retentionBenchItems(b)
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		loadRetentionBench(b, dir, n)
		env := baseEnv(dir, "DEMO_TENANT=false", "LOG_LEVEL=warn", "DEADLINE_WATCH_SCHEDULE=0 0 0 1 1 *",
			"SECRET_KEY="+base64.StdEncoding.EncodeToString(benchSecret))
		for _, name := range []string{"RETENTION_PAGE_SIZE", "RETENTION_PAGE_PAUSE_MS", "RETENTION_BUDGET", "QUEUE_WORKERS", "SQLITE_SYNCHRONOUS"} {
			if v, ok := os.LookupEnv(name); ok {
				env = append(env, name+"="+v)
			}
		}
		// Idle intake first, then the sweep fires a few seconds after the start.
		p := start(b, append(slices.Clone(env), "RETENTION_SCHEDULE=0 0 0 1 1 *"))
		c := loadClient()
		url := p.addr + "/api/portal/tenant-0/requests"
		for range 100 {
			submitOnce(c, url)
		}
		idle50, idle99, _ := intakeAt(c, url, 50, 5*time.Second, nil)
		p.stop(b)
		fire := time.Now().UTC().Add(3 * time.Second)
		p = start(b, append(slices.Clone(env), fmt.Sprintf("RETENTION_SCHEDULE=%d %d %d * * *", fire.Second(), fire.Minute(), fire.Hour())))
		url = p.addr + "/api/portal/tenant-0/requests"
		tokens := make([]string, retentionBenchTenants)
		for k := range tokens {
			tokens[k] = devToken(b, env, fmt.Sprintf("tenant-%d", k))
		}
		b.StartTimer()
		stop := make(chan struct{})
		var busy50, busy99 time.Duration
		var busyFailed int64
		measured := make(chan struct{})
		go func() {
			busy50, busy99, busyFailed = intakeAt(c, url, 50, 0, stop)
			close(measured)
		}()
		var first, last time.Time
		var purged, keptByHold int64
		for deadline := time.Now().Add(time.Hour); ; time.Sleep(500 * time.Millisecond) {
			first, last, purged, keptByHold = time.Time{}, time.Time{}, 0, 0
			done := 0
			for k, tok := range tokens {
				_, body := send("GET", fmt.Sprintf("%s/api/admin/tenant-%d/retention/runs", p.addr, k), tok, "", nil)
				runs, _ := body["runs"].([]any)
				if len(runs) == 0 {
					continue
				}
				r := runs[len(runs)-1].(map[string]any)
				started, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(r["startedAt"]))
				if first.IsZero() || started.Before(first) {
					first = started
				}
				fin, ok := r["finishedAt"].(string)
				if !ok {
					continue
				}
				done++
				end, _ := time.Parse(time.RFC3339Nano, fin)
				if end.After(last) {
					last = end
				}
				pol := r["policies"].([]any)[0].(map[string]any)
				purged += int64(pol["purged"].(float64))
				keptByHold += int64(pol["keptByHold"].(float64))
			}
			if done == retentionBenchTenants {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("the sweep did not finish within an hour:\n%s", p.out.String())
			}
		}
		close(stop)
		<-measured
		b.StopTimer()
		hwm := procHWM(p.cmd.Process.Pid)
		p.stop(b)
		left, held := countItems(b, dir)
		wantHeld := 0
		for j := range n / retentionBenchTenants {
			if _, ok := heldEmail(j); ok {
				wantHeld++
			}
		}
		wantHeld *= retentionBenchTenants
		if held != wantHeld || left != wantHeld || keptByHold != int64(wantHeld) || purged != int64(n-wantHeld) {
			b.Errorf("after the sweep: %d items left, %d held (want %d); runs purged %d, kept by hold %d", left, held, wantHeld, purged, keptByHold)
		}
		b.ReportMetric(float64(purged)/last.Sub(first).Seconds(), "items/s")
		b.ReportMetric(last.Sub(first).Seconds(), "sweep-s")
		b.ReportMetric(hwm, "peak-RSS-MB")
		b.ReportMetric(float64(wantHeld-held), "held-touched")
		b.ReportMetric(float64(idle99.Microseconds())/1000, "intake-idle-p99-ms")
		b.ReportMetric(float64(busy99.Microseconds())/1000, "intake-sweep-p99-ms")
		b.ReportMetric(float64(busy50.Microseconds())/1000, "intake-sweep-p50-ms")
		b.ReportMetric(float64(busyFailed), "intake-failed")
		b.Logf("idle intake p50 %s p99 %s", idle50, idle99)
	}
}

// BenchmarkRetentionRawDelete is the baseline beside the sweep: the same data,
// deleted by batched DELETE statements of 1,000 rows on the same predicate
// (past the cutoff, held subjects excluded by their email), durable commits
// as the store makes them. It knows nothing of floors, reports, checkpoints
// or audit: it is the floor of what deleting costs here.
func BenchmarkRetentionRawDelete(b *testing.B) {
	n := retentionBenchItems(b)
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		loadRetentionBench(b, dir, n)
		raw, err := sql.Open("sqlite", filepath.Join(dir, "privops.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(full)")
		if err != nil {
			b.Fatal(err)
		}
		raw.SetMaxOpenConns(1)
		var held []string
		for h := range 20 {
			held = append(held, fmt.Sprintf("'held%d@example.com'", h))
		}
		cutoff := time.Now().UTC().AddDate(0, 0, -30).Format(time.RFC3339)
		q := `DELETE FROM data_items WHERE tenant_id = ?1 AND container = 'people' AND id IN (
			SELECT id FROM data_items WHERE tenant_id = ?1 AND container = 'people' AND id > ?2
			AND julianday(json_extract(doc, '$.createdAt')) < julianday(?3)
			AND json_extract(doc, '$.email') NOT IN (` + strings.Join(held, ",") + `) ORDER BY id LIMIT 1000) RETURNING id`
		b.StartTimer()
		t0 := time.Now()
		deleted := 0
		for k := range retentionBenchTenants {
			cursor := ""
			for {
				rows, err := raw.Query(q, fmt.Sprintf("tenant-%d", k), cursor, cutoff)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						b.Fatal(err)
					}
					cursor = max(cursor, id)
					got++
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
				deleted += got
				if got == 0 {
					break
				}
			}
		}
		elapsed := time.Since(t0)
		b.StopTimer()
		raw.Close()
		b.ReportMetric(float64(deleted)/elapsed.Seconds(), "items/s")
		b.ReportMetric(elapsed.Seconds(), "delete-s")
	}
}
