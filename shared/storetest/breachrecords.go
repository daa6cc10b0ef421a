package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachrecords"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/retention"
)

// RunBreachRecords runs what a retention sweep of breach records needs of
// the breach stores (shared/breachrecords over breach.Store and
// breachsend.Store): the records a tenant's notices give (closed only when
// the operator's incident and the notice are; recipients while the list is
// there), the recipients' addresses, and a purge that deletes the list and
// ledger, strips the campaign and the notice, and touches neither the
// operator's incident nor another tenant's notice.
func RunBreachRecords(t *testing.T, notices breach.Store, campaigns breachsend.Store) {
	t.Run("BreachRecordsPurge", func(t *testing.T) {
		t.Parallel()
		testBreachRecordsPurge(t, notices, campaigns)
	})
}

func testBreachRecordsPurge(t *testing.T, notices breach.Store, campaigns breachsend.Store) {
	ctx := t.Context()
	r := &breachrecords.Records{Notices: notices, Campaigns: campaigns}
	tenant, other := newTenantID(t), newTenantID(t)
	closed, open := fullIncident(newRequestID(t)), fullIncident(newRequestID(t))
	closed.Status, closed.Tenants = breach.StatusClosed, []string{tenant, other}
	open.Tenants = []string{tenant}
	for _, in := range []*breach.Incident{closed, open} {
		requireNoError(t, notices.CreateIncident(ctx, in), "create incident")
	}
	mk := func(tenantID string, in *breach.Incident, at time.Time) *breach.Notice {
		n := notice(tenantID, in.ID, at)
		n.Status, n.AcknowledgedBy, n.SubjectApprovedBy = in.Status, "admin:sub-123", "admin:sub-456"
		requireNoError(t, notices.CreateNotice(ctx, n), "create notice")
		return n
	}
	mine := mk(tenant, closed, t0.Add(time.Hour))
	mk(tenant, open, t0.Add(2*time.Hour))
	theirs := mk(other, closed, t0.Add(time.Hour))

	c := &breachsend.Campaign{TenantID: tenant, IncidentID: closed.ID, State: breachsend.StateDone, ListID: "lst_" + randomHex(t, 4),
		Total: 2, UploadedAt: t0, NoticeVersion: 2, StartedBy: "admin:sub-123", StartedAt: t0, EndedAt: t0.Add(time.Hour),
		Subject: map[string]string{"en": "Notice"}, Text: map[string]string{"en": "What happened"}}
	putCampaign(t, campaigns, c)
	if _, err := campaigns.AddRecipients(ctx, tenant, closed.ID, c.ListID, 1, recipients("ada", "bob")); err != nil {
		t.Fatal(err)
	}
	if _, err := campaigns.Record(ctx, sent(c, "ada", breachsend.StatusSent, t0)); err != nil {
		t.Fatal(err)
	}

	recs, next, err := r.ListBreachRecords(ctx, tenant, "", 10)
	requireNoError(t, err, "list breach records")
	slices.SortFunc(recs, func(a, b retention.BreachRecord) int { return a.ClosedAt.Compare(b.ClosedAt) })
	want := []retention.BreachRecord{
		{IncidentID: closed.ID, Closed: true, ClosedAt: mine.UpdatedAt, Recipients: true},
		{IncidentID: open.ID, ClosedAt: t0.Add(2 * time.Hour)},
	}
	if diff := cmp.Diff(want, recs, diffOpts); diff != "" || next != "" {
		t.Fatalf("breach records (-want +got):\n%s\nnext %q", diff, next)
	}
	var emails []string
	requireNoError(t, r.BreachRecipients(ctx, tenant, closed.ID, func(e string) error { emails = append(emails, e); return nil }), "recipients")
	if diff := cmp.Diff([]string{"ada@example.com", "bob@example.com"}, emails); diff != "" {
		t.Errorf("recipients (-want +got):\n%s", diff)
	}

	at := t0.Add(6 * 365 * 24 * time.Hour)
	for range 2 { // a purge repeated after a crash changes nothing more
		requireNoError(t, r.PurgeBreachRecord(ctx, tenant, closed.ID, at), "purge breach record")
	}
	got, err := notices.GetNotice(ctx, tenant, closed.ID)
	requireNoError(t, err, "get notice")
	wantNotice := *mine
	wantNotice.Deliveries = slices.Clone(mine.Deliveries)
	wantNotice.Deliveries[0].To = ""
	wantNotice.AcknowledgedBy, wantNotice.SubjectApprovedBy, wantNotice.StrippedAt = "admin", "admin", at
	if diff := cmp.Diff(&wantNotice, got, breachOpts); diff != "" {
		t.Errorf("notice after the purge (-want +got):\n%s", diff)
	}
	gc, err := campaigns.GetCampaign(ctx, tenant, closed.ID)
	requireNoError(t, err, "get campaign")
	if gc.StartedBy != "" || !gc.StrippedAt.Equal(at) || !gc.PurgedAt.Equal(at) || gc.Total != 2 || gc.Sent != 1 || gc.Text["en"] == "" {
		t.Errorf("campaign after the purge: startedBy %q strippedAt %v purgedAt %v total %d sent %d text %v; want the counts and text kept, the rest gone",
			gc.StartedBy, gc.StrippedAt, gc.PurgedAt, gc.Total, gc.Sent, gc.Text)
	}
	ds, err := campaigns.Deliveries(ctx, tenant, closed.ID, c.ListID, breachsend.ChannelEmail, 2, 1, 10)
	requireNoError(t, err, "deliveries")
	if len(ds) != 0 {
		t.Errorf("%d recipients left on the list after the purge", len(ds))
	}
	if n, err := campaigns.DeleteLedger(ctx, tenant, closed.ID, 10); err != nil || n != 0 {
		t.Errorf("ledger rows left after the purge: %d, %v", n, err)
	}
	recs, _, err = r.ListBreachRecords(ctx, tenant, "", 10)
	requireNoError(t, err, "list breach records")
	if i := slices.IndexFunc(recs, func(x retention.BreachRecord) bool { return x.IncidentID == closed.ID }); i < 0 || !recs[i].Stripped || recs[i].Recipients {
		t.Errorf("the purged record lists as %+v, want stripped without recipients", recs)
	}

	// Neither the operator's incident nor the other tenant's notice moved.
	gi, err := notices.GetIncident(ctx, closed.ID)
	requireNoError(t, err, "get incident")
	if diff := cmp.Diff(closed, gi, breachOpts); diff != "" {
		t.Errorf("the operator's incident changed (-want +got):\n%s", diff)
	}
	gt, err := notices.GetNotice(ctx, other, closed.ID)
	requireNoError(t, err, "get the other tenant's notice")
	if diff := cmp.Diff(theirs, gt, breachOpts); diff != "" {
		t.Errorf("another tenant's notice changed (-want +got):\n%s", diff)
	}
}
