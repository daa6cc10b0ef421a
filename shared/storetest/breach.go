package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
)

// RunBreach runs the conformance suite of the breach.Store port: incidents
// in the operator's partition, notices per tenant, ETags, isolation, paging
// and the watch's attention queries. newStore may share one backend: the
// suite's notices use random tenant ids, and its incidents random ids.
func RunBreach(t *testing.T, newStore func(tb testing.TB) breach.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s breach.Store)
	}{
		{"IncidentRoundTrip", testIncidentRoundTrip},
		{"NoticeIsolation", testNoticeIsolation},
		{"NoticeConcurrentUpdates", testNoticeConcurrent},
		{"ListNotices", testListNotices},
		{"Attention", testBreachAttention},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, newStore(t))
		})
	}
}

var breachOpts = cmp.Options{cmpopts.IgnoreFields(breach.Incident{}, "ETag"), cmpopts.IgnoreFields(breach.Notice{}, "ETag"),
	cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Microsecond)}

func fullIncident(id string) *breach.Incident {
	f := breach.Facts{Title: "t", Nature: "n", Categories: []string{"contact"}, SubjectGroups: []string{"customers"},
		SubjectsApprox: 10, RecordsApprox: 20, Consequences: "c", Measures: "m", Contact: "dpo", Risk: breach.RiskHigh,
		Cause: "cause", DelayReason: "none", Residents: map[string]int64{"us-tx": 300}}
	return &breach.Incident{TenantID: privacy.OperatorTenant, ID: id, ReportedBy: "operator:x", Source: "/s", EventID: "e",
		ReportTenant: "acme", DetectedAt: t0, AwareAt: t0.Add(time.Hour), DeterminedAt: t0.Add(2 * time.Hour),
		Jurisdictions: []string{"eu-gdpr"}, Grade: breach.GradeMajor, OperatorClass: breach.ClassOther, Facts: f,
		Scope: &breach.Scope{Services: []string{"db"}}, Tenants: []string{"acme"}, Status: breach.StatusOpen, NoNoticeReason: "r", IdemHash: "h",
		Met: map[string]time.Time{"cn-cac-other": t0}, Escalations: []breach.Escalation{{Clock: "c", Level: "reminder", At: t0}},
		Reports: []breach.Report{{Version: 1, At: t0, By: "x", Summary: "s", Facts: f}}, Pending: []string{"acme"},
		PendingAudit: []privacy.AuditEvent{{ID: "a", TenantID: privacy.OperatorTenant, At: t0}}, AttentionAt: t0.Add(time.Minute),
		CreatedAt: t0, UpdatedAt: t0}
}

func testIncidentRoundTrip(t *testing.T, s breach.Store) {
	ctx := t.Context()
	in := fullIncident(newRequestID(t))
	requireAllFieldsSet(t, *in, "ETag")
	requireNoError(t, s.CreateIncident(ctx, in), "create incident")
	if in.ETag == "" {
		t.Fatal("create incident left ETag empty")
	}
	got, err := s.GetIncident(ctx, in.ID)
	requireNoError(t, err, "get incident")
	if diff := cmp.Diff(in, got, breachOpts); diff != "" {
		t.Errorf("incident after create (-want +got):\n%s", diff)
	}
	requireErrorIs(t, s.CreateIncident(ctx, fullIncident(in.ID)), privacy.ErrConflict, "create existing incident")
	stale := *got
	got.Status = breach.StatusClosed
	requireNoError(t, s.UpdateIncident(ctx, got), "update incident")
	if got.ETag == stale.ETag {
		t.Error("update incident kept the ETag")
	}
	requireErrorIs(t, s.UpdateIncident(ctx, &stale), privacy.ErrConflict, "update incident with a stale ETag")
	stale.ETag = ""
	requireErrorIs(t, s.UpdateIncident(ctx, &stale), privacy.ErrConflict, "update incident without ETag")
	absent := fullIncident(newRequestID(t))
	absent.ETag = got.ETag
	requireErrorIs(t, s.UpdateIncident(ctx, absent), privacy.ErrNotFound, "update absent incident")
	_, err = s.GetIncident(ctx, absent.ID)
	requireErrorIs(t, err, privacy.ErrNotFound, "get absent incident")
	again, err := s.GetIncident(ctx, in.ID)
	requireNoError(t, err, "get incident")
	if again.Status != breach.StatusClosed {
		t.Errorf("status after update = %s", again.Status)
	}
	page, err := s.ListIncidents(ctx, "", 200)
	requireNoError(t, err, "list incidents")
	found := 0
	for _, x := range page.Incidents {
		if x.ID == in.ID {
			found++
		}
	}
	if found != 1 {
		t.Errorf("list incidents returned ours %d times on the first page", found)
	}
	_, err = s.ListIncidents(ctx, "not-a-cursor", 10)
	if e, ok := privacy.AsError(err); !ok || e.Code != "invalid-cursor" {
		t.Errorf("bad cursor: %v, want invalid-cursor", err)
	}
}

func notice(tenantID, id string, created time.Time) *breach.Notice {
	return &breach.Notice{TenantID: tenantID, ID: id, IncidentID: id, Version: 1, AwareAt: created, Jurisdictions: []string{"eu-gdpr"},
		Facts: breach.Facts{Title: "t", Risk: breach.RiskLow}, Status: breach.StatusOpen, NotifiedAt: created,
		Deliveries:  []breach.Delivery{{Key: "k", Channel: breach.ChannelMail, Role: "primary", To: "sec@example.com", Version: 1, At: created, Status: breach.DeliverySent}},
		Escalations: []breach.Escalation{}, Pending: []breach.Send{{Key: "p", Version: 1, Channel: breach.ChannelMail, Role: "secondary"}},
		Met: map[string]time.Time{"eu-gdpr-authority": created}, CreatedAt: created, UpdatedAt: created}
}

func testNoticeIsolation(t *testing.T, s breach.Store) {
	ctx := t.Context()
	a, b, id := newTenantID(t), newTenantID(t), newRequestID(t)
	n := notice(a, id, t0)
	requireNoError(t, s.CreateNotice(ctx, n), "create notice")
	got, err := s.GetNotice(ctx, a, id)
	requireNoError(t, err, "get notice")
	if diff := cmp.Diff(n, got, breachOpts); diff != "" {
		t.Errorf("notice after create (-want +got):\n%s", diff)
	}
	_, err = s.GetNotice(ctx, b, id)
	requireErrorIs(t, err, privacy.ErrNotFound, "get another tenant's notice")
	other := notice(b, id, t0)
	other.ETag = n.ETag
	requireErrorIs(t, s.UpdateNotice(ctx, other), privacy.ErrNotFound, "update a notice under another tenant")
	page, err := s.ListNotices(ctx, b, "", 10)
	requireNoError(t, err, "list notices")
	if len(page.Notices) != 0 {
		t.Errorf("tenant %s lists %d notices of another tenant", b, len(page.Notices))
	}
	requireErrorIs(t, s.CreateNotice(ctx, notice(a, id, t0)), privacy.ErrConflict, "create existing notice")
	// The same id in another partition is another document.
	requireNoError(t, s.CreateNotice(ctx, notice(b, id, t0)), "create notice of another tenant")
}

func testNoticeConcurrent(t *testing.T, s breach.Store) {
	ctx := t.Context()
	tenant, id := newTenantID(t), newRequestID(t)
	requireNoError(t, s.CreateNotice(ctx, notice(tenant, id, t0)), "create notice")
	const writers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range writers {
		wg.Go(func() {
			n, err := s.GetNotice(ctx, tenant, id)
			if err != nil {
				return
			}
			n.AcknowledgedBy = fmt.Sprint(i)
			err = s.UpdateNotice(ctx, n)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, privacy.ErrConflict) {
				t.Errorf("concurrent update: %v", err)
			}
		})
	}
	wg.Wait()
	if wins < 1 {
		t.Fatal("no concurrent update won")
	}
}

func testListNotices(t *testing.T, s breach.Store) {
	ctx := t.Context()
	tenant := newTenantID(t)
	for i := range 5 {
		id := fmt.Sprintf("inc_%02d", i)
		requireNoError(t, s.CreateNotice(ctx, notice(tenant, id, t0.Add(time.Duration(i%3)*time.Minute))), "create notice")
	}
	// Created at 0, 1, 2, 0, 1 minutes: newest first, ties by id descending.
	wantOrder := []string{"inc_02", "inc_04", "inc_01", "inc_03", "inc_00"}
	var got []string
	cursor := ""
	for range 10 {
		page, err := s.ListNotices(ctx, tenant, cursor, 2)
		requireNoError(t, err, "list notices")
		for _, n := range page.Notices {
			got = append(got, n.ID)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if diff := cmp.Diff(wantOrder, got); diff != "" {
		t.Errorf("paged notices (-want +got):\n%s", diff)
	}
	page, err := s.ListNotices(ctx, tenant, "", 2)
	requireNoError(t, err, "list notices")
	_, err = s.ListNotices(ctx, newTenantID(t), page.Next, 2)
	if e, ok := privacy.AsError(err); !ok || e.Code != "invalid-cursor" {
		t.Errorf("another tenant's cursor: %v, want invalid-cursor", err)
	}
}

func testBreachAttention(t *testing.T, s breach.Store) {
	ctx := t.Context()
	tenant := newTenantID(t)
	due := notice(tenant, "due", t0)
	due.AttentionAt = t0.Add(time.Minute)
	later := notice(tenant, "later", t0)
	later.AttentionAt = t0.Add(time.Hour)
	none := notice(tenant, "none", t0)
	for _, n := range []*breach.Notice{due, later, none} {
		requireNoError(t, s.CreateNotice(ctx, n), "create notice")
	}
	got, err := s.NoticesNeedingAttention(ctx, tenant, t0.Add(10*time.Minute), 10)
	requireNoError(t, err, "notices needing attention")
	if len(got) != 1 || got[0].ID != "due" || got[0].ETag == "" {
		t.Fatalf("notices needing attention = %v, want [due] with its ETag", got)
	}
	got[0].AttentionAt = time.Time{}
	requireNoError(t, s.UpdateNotice(ctx, got[0]), "clear attention")
	got, err = s.NoticesNeedingAttention(ctx, tenant, t0.Add(2*time.Hour), 10)
	requireNoError(t, err, "notices needing attention")
	if len(got) != 1 || got[0].ID != "later" {
		t.Fatalf("after clearing: %v, want [later]", got)
	}
	in := fullIncident(newRequestID(t))
	in.AttentionAt = t0.Add(-time.Hour) // older than any other run's incident at t0
	requireNoError(t, s.CreateIncident(ctx, in), "create incident")
	incs, err := s.IncidentsNeedingAttention(ctx, t0.Add(-time.Minute), 1000)
	requireNoError(t, err, "incidents needing attention")
	found := false
	for _, x := range incs {
		found = found || x.ID == in.ID
	}
	if !found {
		t.Error("the incident needing attention was not returned")
	}
}
