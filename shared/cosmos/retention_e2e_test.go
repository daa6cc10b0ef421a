package cosmos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachrecords"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
)

// e2eClock is the sweep's clock, moved by the test.
type e2eClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *e2eClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *e2eClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// e2eCrash is the panic of a crash point.
type e2eCrash string

// TestRetentionSweepEndToEnd runs a real sweep on Cosmos DB (the emulator in
// CI): a tenant whose system-logs policy (30 days, saved before the tenant
// answered under PIPL: the 6-month floor of CSL Art. 21(3) still binds each
// item) meets 30 log items of a built-in container, three of them about a
// held subject, and whose breach-records policy meets a notice of a closed
// incident with a recipient list. The sweep pages by 4 and is killed (a
// panic at a crash point) after its third checkpoint; a second owner takes
// the run over once the lease ran out and finishes it. Checked: the report
// (counts, floors, cutoffs), no held or floored item touched, nothing counted
// twice, the tombstones (each purged subject once, by keyed hash), the
// run-finished audit event, the breach record stripped; and the round trips
// per purged item are logged. The emulator's known deviations (it ignores a
// query's partition key and answers every query in one page; it implements
// no TTL) block none of these checks: every query names its tenant, the
// pages here are the sweep's own (PageSize), and nothing here expires.
func TestRetentionSweepEndToEnd(t *testing.T) {
	t.Parallel()
	s, rec := newItemsStore(t)
	ctx := t.Context()
	now := time.Date(2030, 3, 31, 2, 0, 0, 0, time.UTC)
	clock := &e2eClock{now: now}
	tenant := "rt-" + randomID(t)
	hash := func(tenantID, email string) string {
		sum := sha256.Sum256([]byte(tenantID + "\x00" + email))
		return hex.EncodeToString(sum[:16])
	}
	held := hash(tenant, "held@example.com")
	tn := &privacy.Tenant{ID: tenant, Name: "E2E", Regimes: []string{privacy.RegimePIPL}, CreatedAt: now, UpdatedAt: now,
		Services: []privacy.Service{{ID: "app", Kind: privacy.KindCosmos, Container: "logs", IdentityPaths: map[string]string{"email": "/user/email"}}},
		Holds:    []privacy.Hold{{ID: "h1", Scope: privacy.HoldSubject, SubjectHash: held, Reason: "litigation", PlacedAt: now}},
		RetentionPolicies: []privacy.RetentionPolicy{
			{ID: "app-logs", Category: retention.CategorySystemLogs, Scope: retention.ScopeService, Service: "app", MaxAgeDays: 30,
				From: retention.FromCreated, TimestampPath: "/at", Action: retention.ActionDelete},
			{ID: "breaches", Category: retention.CategoryBreachRecords, Scope: retention.ScopeSuite, MaxAgeDays: 400,
				From: retention.FromIncidentClosed, Action: retention.ActionDelete},
		}}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		email := fmt.Sprintf("u%d@example.com", i)
		if i == 10 || i == 20 || i == 25 {
			email = "held@example.com"
		}
		doc := fmt.Sprintf(`{"id":"l%03d","at":%q,"user":{"email":%q}}`, i, now.AddDate(0, 0, -10*i).Format(time.RFC3339), email)
		if err := s.PutItem(ctx, tenant, "logs", []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	// A breach record: the operator's closed incident, the tenant's notice
	// (closed 2,000 days ago: past the policy and the 5-year floors), its
	// campaign with a recipient list still there.
	inc := &breach.Incident{TenantID: privacy.OperatorTenant, ID: "inc-" + randomID(t), Status: breach.StatusClosed, Tenants: []string{tenant},
		CreatedAt: now.AddDate(0, 0, -2100), UpdatedAt: now.AddDate(0, 0, -2000)}
	if err := s.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateNotice(ctx, &breach.Notice{TenantID: tenant, ID: inc.ID, IncidentID: inc.ID, Status: breach.StatusClosed, AcknowledgedBy: "admin:sub-9",
		Deliveries: []breach.Delivery{{Key: "k", Channel: breach.ChannelMail, Role: "primary", To: "security@acme.example", Status: breach.DeliverySent}},
		CreatedAt:  now.AddDate(0, 0, -2100), UpdatedAt: now.AddDate(0, 0, -2000)}); err != nil {
		t.Fatal(err)
	}
	bs := s.BreachSend()
	c := &breachsend.Campaign{TenantID: tenant, IncidentID: inc.ID, State: breachsend.StateDone, ListID: "lst_e2e", Total: 2, NoticeVersion: 1, StartedBy: "admin:sub-9"}
	if err := bs.PutCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.AddRecipients(ctx, tenant, inc.ID, "lst_e2e", 1, []breachsend.Recipient{
		{Key: "ka", Email: "ann@example.com", Language: "en"}, {Key: "kb", Email: "ben@example.com", Language: "en"}}); err != nil {
		t.Fatal(err)
	}
	rec.take()

	runs := 0
	sweeper := func(step func(string)) *retention.Sweeper {
		sw, err := retention.NewSweeper(retention.Config{PageSize: 4, Lease: 10 * time.Minute},
			retention.Deps{Tenants: s, Items: s, Requests: s, Inbound: s, Breach: &breachrecords.Records{Notices: s, Campaigns: bs},
				Audit: s.AppendAudit, Hash: hash, Now: clock.Now, Step: step,
				NewID: func() string { runs++; return fmt.Sprintf("run_e2e%d", runs) },
				Flush: func(ctx context.Context, t *privacy.Tenant) (*privacy.Tenant, error) {
					for i := range t.PendingAudit {
						if err := s.AppendAudit(ctx, &t.PendingAudit[i]); err != nil {
							return t, err
						}
					}
					t.PendingAudit = nil
					return t, s.UpdateTenant(ctx, t)
				}})
		if err != nil {
			t.Fatal(err)
		}
		return sw
	}
	checkpoints := 0
	func() {
		defer func() {
			if _, ok := recover().(e2eCrash); !ok {
				t.Fatal("the first owner did not crash")
			}
		}()
		_, _ = sweeper(func(name string) {
			if name == "retention-page-planned" {
				if checkpoints++; checkpoints == 3 {
					panic(e2eCrash(name))
				}
			}
		}).Run(ctx, tenant, "owner-a", time.Hour)
	}()
	if _, err := sweeper(nil).Run(ctx, tenant, "owner-b", time.Hour); err == nil || !strings.Contains(err.Error(), "in progress") {
		t.Fatalf("a second owner while the first one's lease holds: %v, want retention-run-in-progress", err)
	}
	rec.take()
	clock.set(now.Add(11 * time.Minute))
	run, err := sweeper(nil).Run(ctx, tenant, "owner-b", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("resumed run: %+v, %v", run, err)
	}
	calls := rec.take()

	type counts struct {
		Policy, Status                                   string
		Scanned, Purged, KeptByHold, KeptByFloor, Failed int64
	}
	var got []counts
	for _, p := range run.Policies {
		got = append(got, counts{p.PolicyID, p.Status, p.Scanned, p.Purged, p.KeptByHold, p.KeptByFloor, p.Failed})
	}
	// l000-l003 are not past 30 days; l004-l018 are within the 6-month floor
	// except l010, held; of l019-l029, l020 and l025 are held, 9 purged.
	want := []counts{{"app-logs", "done", 26, 9, 3, 14, 0}, {"breaches", "done", 1, 1, 0, 0, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if pr := run.Policies[0]; !pr.FloorCutoff.Equal(retention.AddMonths(now, -6)) || !pr.Cutoff.Equal(now.AddDate(0, 0, -30)) {
		t.Errorf("cutoffs %v / floor %v: not the ones fixed when the run started", pr.Cutoff, pr.FloorCutoff)
	}
	var left []string
	if err := s.ScanItemsBefore(ctx, tenant, "logs", "/at", now.Add(time.Hour), "", 100, func(id string, _ []byte) error {
		left = append(left, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantLeft := []string{"l000", "l001", "l002", "l003", "l004", "l005", "l006", "l007", "l008", "l009", "l010", "l011", "l012",
		"l013", "l014", "l015", "l016", "l017", "l018", "l020", "l025"}
	if diff := cmp.Diff(wantLeft, left); diff != "" {
		t.Errorf("items left (-want +got):\n%s", diff)
	}

	// Tombstones: each purged subject once, by keyed hash; the held one never.
	evs, err := s.ListAudit(ctx, tenant, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	finished := 0
	for _, e := range evs {
		switch e.Action {
		case retention.ActionSubjectsPurged:
			subjects = append(subjects, strings.Fields(e.Details["subjects"])...)
		case "retention.run-finished":
			finished++
			if e.Details["purged"] != "10" || e.Details["keptByHold"] != "3" {
				t.Errorf("run-finished details: %v", e.Details)
			}
		}
	}
	var wantSubjects []string
	for _, i := range []int{19, 21, 22, 23, 24, 26, 27, 28, 29} {
		wantSubjects = append(wantSubjects, hash(tenant, fmt.Sprintf("u%d@example.com", i)))
	}
	wantSubjects = append(wantSubjects, hash(tenant, "ann@example.com"), hash(tenant, "ben@example.com"))
	slices.Sort(subjects)
	slices.Sort(wantSubjects)
	if diff := cmp.Diff(wantSubjects, subjects); diff != "" {
		t.Errorf("tombstoned subjects (-want +got):\n%s", diff)
	}
	if finished != 1 {
		t.Errorf("%d run-finished events, want 1", finished)
	}

	n, err := s.GetNotice(ctx, tenant, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.StrippedAt.IsZero() || n.Deliveries[0].To != "" || n.AcknowledgedBy != "admin" {
		t.Errorf("notice after the sweep: stripped %v, to %q, acknowledged by %q", n.StrippedAt, n.Deliveries[0].To, n.AcknowledgedBy)
	}
	if gi, err := s.GetIncident(ctx, inc.ID); err != nil || gi.ETag != inc.ETag {
		t.Errorf("the operator's incident was written: %v", err)
	}
	if ds, err := bs.Deliveries(ctx, tenant, inc.ID, "lst_e2e", breachsend.ChannelEmail, 1, 1, 10); err != nil || len(ds) != 0 {
		t.Errorf("recipients left: %d, %v", len(ds), err)
	}

	// Round trips of the resumed owner, per purged item (the first owner's
	// pages are the same shape).
	purged := run.Policies[0].Purged + run.Policies[1].Purged
	t.Logf("resumed sweep: %d Cosmos calls (%v) for %d purged items (of %d resumed): %.2f round trips per purged item",
		len(calls), countKinds(calls), purged, purged, float64(len(calls))/float64(purged))
}

// countKinds counts calls by container and kind.
func countKinds(calls []call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[c.Container+" "+c.Kind]++
	}
	return out
}

// TestRetentionSweepRoundTrips measures the round trips per purged item of a
// real sweep on Cosmos DB: 300 expired items of a built-in container, each
// about its own subject, swept in pages of 100 (a query, a checkpoint, a
// point delete per item, a tombstone append per page, then the run's end).
func TestRetentionSweepRoundTrips(t *testing.T) {
	t.Parallel()
	s, rec := newItemsStore(t)
	ctx := t.Context()
	now := time.Date(2030, 3, 31, 2, 0, 0, 0, time.UTC)
	tenant := "rr-" + randomID(t)
	tn := &privacy.Tenant{ID: tenant, Name: "RT", CreatedAt: now, UpdatedAt: now,
		Services: []privacy.Service{{ID: "app", Kind: privacy.KindCosmos, Container: "logs", IdentityPaths: map[string]string{"email": "/user/email"}}},
		RetentionPolicies: []privacy.RetentionPolicy{{ID: "app-logs", Category: retention.CategorySystemLogs, Scope: retention.ScopeService,
			Service: "app", MaxAgeDays: 30, From: retention.FromCreated, TimestampPath: "/at", Action: retention.ActionDelete}}}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	const items, pageSize = 300, 100
	for i := range items {
		doc := fmt.Sprintf(`{"id":"l%04d","at":%q,"user":{"email":"u%d@example.com"}}`, i, now.AddDate(0, 0, -40).Format(time.RFC3339), i)
		if err := s.PutItem(ctx, tenant, "logs", []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	rec.take()
	sw, err := retention.NewSweeper(retention.Config{PageSize: pageSize},
		retention.Deps{Tenants: s, Items: s, Audit: s.AppendAudit, Now: func() time.Time { return now },
			Hash:  func(_, email string) string { sum := sha256.Sum256([]byte(email)); return hex.EncodeToString(sum[:16]) },
			NewID: func() string { return "run_rt" },
			Flush: func(ctx context.Context, t *privacy.Tenant) (*privacy.Tenant, error) {
				for i := range t.PendingAudit {
					if err := s.AppendAudit(ctx, &t.PendingAudit[i]); err != nil {
						return t, err
					}
				}
				t.PendingAudit = nil
				return t, s.UpdateTenant(ctx, t)
			}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := sw.Run(ctx, tenant, "owner", time.Hour)
	if err != nil || !run.Finished() || run.Policies[0].Purged != items {
		t.Fatalf("run: %+v, %v", run, err)
	}
	calls := rec.take()
	t.Logf("%d items purged in pages of %d: %d Cosmos calls (%v): %.3f round trips per purged item",
		items, pageSize, len(calls), countKinds(calls), float64(len(calls))/items)
	// A point delete per item, plus a small cost per page.
	if per := float64(len(calls)) / items; per < 1 || per > 1.2 {
		t.Errorf("%.3f round trips per purged item, want 1 delete each plus at most 0.2 per item of paging, checkpoints and tombstones", per)
	}
}
