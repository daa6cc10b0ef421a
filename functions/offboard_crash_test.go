package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqlite"
)

// TestOffboardPurgeCrashResumesAndLeavesNothing SIGKILLs the real binary in
// the middle of an offboarding purge (after the sixth page: its queue
// messages, its breach records and requests are gone, its audit chain not
// yet), restarts it, and lets the hourly watch
// (every second here) finish alone: nothing of the tenant is left in the
// store, the queue or the blob folder, the certificate is in the operator's
// chain and readable through the operator API, and the other tenant is
// counted the same before and after, its chain still valid. Both tenants
// hold breach records: a notice, and a data-subject campaign still sending
// (three recipients, one ledger row, a staged list); acme's campaign is
// stopped and purged with the rest, and the operator's incident naming both
// tenants stays.
func TestOffboardPurgeCrashResumesAndLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	dir := t.TempDir()
	env := baseEnv(dir, "DEMO_TENANT=false", "OFFBOARD_NOTICE=1s", "OFFBOARD_PAGE_SIZE=10", "BLOB_DIR="+filepath.Join(dir, "blobs"))
	for _, id := range []string{"acme", "initech"} {
		if _, stderr, err := runCLI(t, env, "tenant", "create", "--id", id, "--name", id+" Ltd"); err != nil {
			t.Fatalf("create %s: %v %s", id, err, stderr)
		}
	}

	// Requests of both tenants, their audit trails and notices, settled.
	quiet := append(slices.Clone(env), "DEADLINE_WATCH_SCHEDULE=0 0 0 1 1 *")
	p := start(t, quiet)
	for _, id := range []string{"acme", "initech"} {
		tok := devToken(t, env, id)
		for i := range 8 {
			status, body := send("POST", p.addr+"/api/admin/"+id+"/requests", tok,
				fmt.Sprintf(`{"type":"erase","email":"subject%d@example.com","country":"DE"}`, i), nil)
			if status != 201 {
				t.Fatalf("submit to %s: %d %v", id, status, body)
			}
		}
		waitSettled(t, p.addr, tok, id)
	}
	waitMails(t, filepath.Join(dir, "outbox"), 16) // every notice mailed: the queue is drained
	p.stop(t)
	// Messages no consumer reads, of both tenants: the purge must take
	// acme's and leave initech's.
	publishIdle(t, dir, map[string]int{"acme": 3, "initech": 2})
	seedBreachRecords(t, dir, "acme", "initech")
	other := tenantHoldings(t, dir, "initech")
	if other["requests"] != 8 || other["audit"] < 9 || other["messages"] != 2 || other["tenant"] != 1 ||
		other["breach-notices"] != 1 || other["breach-recipients"] != 4 || other["breach-ledger"] != 1 || other["breach-campaigns"] != 1 {
		t.Fatalf("the other tenant before: %v", other)
	}

	if out, stderr, err := runCLI(t, env, "tenant", "offboard", "--id", "acme", "--choice", "return-then-delete"); err != nil {
		t.Fatalf("offboard: %v %s %s", err, out, stderr)
	}
	// Pages: messages, recipients, ledger, campaigns, notices, requests.
	p = start(t, append(slices.Clone(env), "PRIVOPS_CRASHPOINT=offboard-page@6"))
	if !p.waitKilled(t, 30*time.Second) {
		t.Fatalf("the suite did not die in the purge:\n%s", p.out.String())
	}
	mid := tenantHoldings(t, dir, "acme")
	if mid["tenant"] != 1 || mid["messages"] != 0 || mid["requests"] != 0 || mid["audit"] == 0 || mid["breach-notices"] != 0 ||
		mid["breach-recipients"] != 0 || mid["breach-ledger"] != 0 || mid["breach-campaigns"] != 0 {
		t.Fatalf("after the kill, want the tenant mid-purge (messages, breach records and requests gone, audit not yet): %v", mid)
	}

	p = start(t, env)
	op := operatorDevToken(t, env, "operator-viewer")
	var view map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var status int
		status, view = send("GET", p.addr+"/api/operator/tenants/acme/offboarding", op, "", nil)
		if status == 200 && view["state"] == "offboarded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not offboarded after the restart: %d %v\n%s", status, view, p.out.String())
		}
	}
	if status, _ := send("GET", p.addr+"/api/operator/tenants/acme", op, "", nil); status != 404 {
		t.Errorf("the offboarded tenant still reads: %d", status)
	}
	p.stop(t)

	gone := map[string]int{"audit": 0, "inbound": 0, "items": 0, "messages": 0, "requests": 0, "tenant": 0,
		"breach-notices": 0, "breach-recipients": 0, "breach-ledger": 0, "breach-campaigns": 0}
	if diff := cmp.Diff(gone, tenantHoldings(t, dir, "acme")); diff != "" {
		t.Errorf("left of the offboarded tenant (-want +got):\n%s", diff)
	}
	_ = filepath.WalkDir(filepath.Join(dir, "blobs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(path, "acme") {
			t.Errorf("blob left: %s", path)
		}
		return nil
	})
	if diff := cmp.Diff(other, tenantHoldings(t, dir, "initech")); diff != "" {
		t.Errorf("the other tenant changed (-before +after):\n%s", diff)
	}

	// The certificate: signed, counted once, nothing remaining.
	var c struct {
		TenantID  string         `json:"tenantId"`
		Deleted   map[string]int `json:"deleted"`
		Remaining map[string]int `json:"remaining"`
		Package   map[string]any `json:"returnPackage"`
	}
	raw, _ := json.Marshal(view["certificate"].(map[string]any)["certificate"])
	if err := json.Unmarshal(raw, &c); err != nil || c.TenantID != "acme" || c.Package == nil {
		t.Fatalf("certificate: %v %s", err, raw)
	}
	if c.Deleted["requests"] != 8 || c.Deleted["blobs"] != 1 || c.Deleted["messages"] != 3 || c.Deleted["audit"] < 10 ||
		c.Deleted["breach-notices"] != 1 || c.Deleted["breach-recipients"] != 4 || c.Deleted["breach-ledger"] != 1 || c.Deleted["breach-campaigns"] != 1 {
		t.Errorf("certificate counts %v", c.Deleted)
	}
	for kind, n := range c.Remaining {
		if n != 0 {
			t.Errorf("certificate: %d %s remaining", n, kind)
		}
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "privops.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, err := db.Store().ListAudit(context.Background(), privacy.OperatorTenant, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var certs int
	for _, e := range evs {
		if e.Action == "tenant.offboarded" {
			certs++
		}
	}
	if certs != 1 || privacy.VerifyChain(0, "", evs) != nil {
		t.Errorf("operator chain: %d certificates, break %v", certs, privacy.VerifyChain(0, "", evs))
	}
	// The processor's own record of the breach keeps naming the tenant.
	inc, err := db.Store().GetIncident(context.Background(), "inc-offboard")
	if err != nil || !cmp.Equal(inc.Tenants, []string{"acme", "initech"}) {
		t.Errorf("the incident after the offboarding: %v %v", err, inc)
	}
	if c, err := db.BreachSend().GetCampaign(context.Background(), "initech", "inc-offboard"); err != nil || c.State != breachsend.StateSending {
		t.Errorf("the other tenant's campaign: %v %+v", err, c)
	}
}

// seedBreachRecords gives each tenant, in the stopped suite's database, the
// notice of an incident that names them all, and a data-subject campaign of
// it still sending: three recipients, one of them sent, and a staged list
// an upload left.
func seedBreachRecords(tb testing.TB, dir string, tenants ...string) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "privops.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	const id = "inc-offboard"
	if err := db.Store().CreateIncident(ctx, &breach.Incident{TenantID: privacy.OperatorTenant, ID: id, Tenants: tenants,
		Status: breach.StatusOpen, DetectedAt: now, AwareAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	bs := db.BreachSend()
	for _, tenant := range tenants {
		if err := db.Store().CreateNotice(ctx, &breach.Notice{TenantID: tenant, ID: id, IncidentID: id, Version: 1,
			Status: breach.StatusOpen, CreatedAt: now, UpdatedAt: now}); err != nil {
			tb.Fatal(err)
		}
		c := &breachsend.Campaign{TenantID: tenant, IncidentID: id, State: breachsend.StateSending, ListID: "list-1", Total: 3,
			NoticeVersion: 1, StartedAt: now, BatchSize: 500, Batches: 1, Enqueued: 1}
		if err := bs.PutCampaign(ctx, c); err != nil {
			tb.Fatal(err)
		}
		var rs []breachsend.Recipient
		for i := range 3 {
			rs = append(rs, breachsend.Recipient{Key: fmt.Sprintf("key-%d", i), Email: fmt.Sprintf("r%d@%s.example", i, tenant), Language: "en"})
		}
		if _, err := bs.AddRecipients(ctx, tenant, id, "list-1", 1, rs); err != nil {
			tb.Fatal(err)
		}
		if _, err := bs.Record(ctx, breachsend.LedgerEntry{TenantID: tenant, IncidentID: id, RecipientKey: "key-0", Channel: breachsend.ChannelEmail,
			Version: 1, Status: breachsend.StatusSent, Attempts: 1, At: now, MailID: "m"}); err != nil {
			tb.Fatal(err)
		}
		if err := bs.StageList(ctx, tenant, id, "crashed-upload", now.Add(24*time.Hour)); err != nil {
			tb.Fatal(err)
		}
	}
}

// waitSettled waits until every request of the tenant has its outbox done.
func waitSettled(tb testing.TB, addr, tok, tenant string) {
	tb.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		status, body := send("GET", addr+"/api/admin/"+tenant+"/requests?limit=200", tok, "", nil)
		settled := status == 200
		reqs, _ := body["requests"].([]any)
		for _, r := range reqs {
			if r.(map[string]any)["pendingEvents"].(float64) != 0 {
				settled = false
			}
		}
		if settled {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("requests of %s not settled: %d %v", tenant, status, body)
		}
	}
}

// tenantHoldings opens the stopped suite's database and counts what it holds
// of a tenant, kind by kind, and whether its chain verifies.
func tenantHoldings(tb testing.TB, dir, tenant string) map[string]int {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "privops.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	out := map[string]int{"tenant": 0}
	for _, kind := range []string{privacy.DataKindRequests, privacy.DataKindInbound, privacy.DataKindItems, privacy.DataKindAudit,
		privacy.DataKindBreachNotices} {
		n, err := db.Store().CountTenantData(ctx, tenant, kind)
		if err != nil {
			tb.Fatal(err)
		}
		out[kind] = n
	}
	for _, kind := range []string{privacy.DataKindBreachRecipients, privacy.DataKindBreachLedger, privacy.DataKindBreachCampaigns} {
		n, err := db.BreachSend().CountTenantData(ctx, tenant, kind)
		if err != nil {
			tb.Fatal(err)
		}
		out[kind] = n
	}
	n, err := db.Queue().CountTenantMessages(ctx, tenant)
	if err != nil {
		tb.Fatal(err)
	}
	out["messages"] = n
	if _, err := db.Store().GetTenant(ctx, tenant); err == nil {
		out["tenant"] = 1
	}
	if out["tenant"] == 1 && out["requests"] > 0 {
		evs, err := db.Store().ListAudit(ctx, tenant, 0, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		if br := privacy.VerifyChain(0, "", evs); br != nil {
			out["chainBroken"] = 1
		}
	}
	return out
}

// waitMails waits until the mail outbox folder holds n mails.
func waitMails(tb testing.TB, outbox string, n int) {
	tb.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		files, _ := os.ReadDir(outbox)
		if len(files) >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d mails in the outbox, want %d", len(files), n)
		}
	}
}

// publishIdle puts messages of each tenant on a queue no function consumes,
// one dead-lettered, directly in the stopped suite's database.
func publishIdle(tb testing.TB, dir string, perTenant map[string]int) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "privops.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	for tenant, n := range perTenant {
		for i := range n {
			ev, err := privacy.NewEvent(fmt.Sprintf("evt-%s-%d", tenant, i), privacy.EventNotice, tenant, "request/r1", time.Now(),
				privacy.NoticeData{RequestID: "r1", Notice: "received"})
			if err != nil {
				tb.Fatal(err)
			}
			body, _ := json.Marshal(ev)
			if err := db.Queue().Publish(ctx, "privops-idle", privacy.OutMessage{ID: ev.ID, Body: body}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	d, err := db.Queue().Receive(ctx, "privops-idle", time.Minute)
	if err != nil || d == nil {
		tb.Fatalf("receive: %v", err)
	}
	if err := db.Queue().DeadLetter(ctx, d, "test"); err != nil {
		tb.Fatal(err)
	}
}
