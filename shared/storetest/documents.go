package storetest

import (
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
)

func testTenants(t *testing.T, s privacy.Store) {
	ctx := t.Context()
	a := fullTenant(newTenantID(t))
	requireAllFieldsSet(t, *a, "ETag")
	requireNoError(t, s.CreateTenant(ctx, a), "create tenant")
	if a.ETag == "" {
		t.Fatal("create tenant left ETag empty")
	}
	got, err := s.GetTenant(ctx, a.ID)
	requireNoError(t, err, "get tenant")
	requireEqual(t, a, got, "tenant after create")

	dup := fullTenant(a.ID)
	dup.Name = "Someone Else"
	requireErrorIs(t, s.CreateTenant(ctx, dup), privacy.ErrConflict, "create existing tenant")
	got, err = s.GetTenant(ctx, a.ID)
	requireNoError(t, err, "get tenant")
	requireEqual(t, a, got, "tenant after refused create")

	stale := *a
	got.Name = "Renamed Controller"
	got.Regimes = append(got.Regimes, privacy.RegimePIPL)
	got.UpdatedAt = t0.Add(48 * time.Hour)
	requireNoError(t, s.UpdateTenant(ctx, got), "update tenant")
	if got.ETag == "" || got.ETag == stale.ETag {
		t.Fatalf("update tenant: ETag %q, want a new non-empty value", got.ETag)
	}
	again, err := s.GetTenant(ctx, a.ID)
	requireNoError(t, err, "get tenant")
	requireEqual(t, got, again, "tenant after update")

	stale.Name = "Lost Update"
	requireErrorIs(t, s.UpdateTenant(ctx, &stale), privacy.ErrConflict, "update tenant with stale ETag")
	stale.ETag = ""
	requireErrorIs(t, s.UpdateTenant(ctx, &stale), privacy.ErrConflict, "update tenant without ETag")
	absent := fullTenant(newTenantID(t))
	absent.ETag = got.ETag
	requireErrorIs(t, s.UpdateTenant(ctx, absent), privacy.ErrNotFound, "update absent tenant")
	_, err = s.GetTenant(ctx, absent.ID)
	requireErrorIs(t, err, privacy.ErrNotFound, "get absent tenant")

	b := createTenant(t, s)
	all, err := s.ListTenants(ctx)
	requireNoError(t, err, "list tenants")
	// The backend may hold other runs' tenants: look for ours only.
	found := map[string]*privacy.Tenant{}
	for _, x := range all {
		if x.ID == a.ID || x.ID == b.ID {
			if found[x.ID] != nil {
				t.Errorf("list tenants returned %s twice", x.ID)
			}
			found[x.ID] = x
		}
	}
	requireEqual(t, map[string]*privacy.Tenant{a.ID: got, b.ID: b}, found, "listed tenants")
}

func testRequestRoundTrip(t *testing.T, s privacy.Store) {
	ctx := t.Context()
	tenant, id := newTenantID(t), newRequestID(t)
	r := fullRequest(tenant, id, t0)
	requireAllFieldsSet(t, *r, "ETag")
	createRequest(t, s, r)
	if r.ETag == "" {
		t.Fatal("create request left ETag empty")
	}
	want := fullRequest(tenant, id, t0)
	want.ETag = r.ETag
	requireEqual(t, want, getRequest(t, s, tenant, id), "request after create")

	// The store keeps its own copy: changing what was passed in or handed out
	// must not change what is stored.
	r.Categories[0] = privacy.CategoryMarketing
	r.Pauses[1].To = t0
	r.Extension.Reason = "changed by the caller"
	got := getRequest(t, s, tenant, id)
	got.Changes[0].Value = "changed by the caller"
	got.Outbox = append(got.Outbox, privacy.OutboxEvent{ID: "evt-x"})
	got.Decision.Reason = "changed by the caller"
	requireEqual(t, want, getRequest(t, s, tenant, id), "request after changing the caller's copies")

	dup := fullRequest(tenant, id, t0.Add(time.Hour))
	dup.Status = privacy.StatusDenied
	requireErrorIs(t, s.CreateRequest(ctx, dup), privacy.ErrConflict, "create existing request")
	requireEqual(t, want, getRequest(t, s, tenant, id), "request after refused create")

	_, err := s.GetRequest(ctx, tenant, newRequestID(t))
	requireErrorIs(t, err, privacy.ErrNotFound, "get absent request")

	// Optional fields left empty come back empty.
	bare := &privacy.Request{ID: newRequestID(t), TenantID: tenant, Type: privacy.TypeAccess,
		Status: privacy.StatusAwaitingVerification, Channel: privacy.ChannelPortal,
		Subject: privacy.Subject{Email: "bare@example.org", Country: "DE"}, ReceivedAt: t0, CreatedAt: t0, UpdatedAt: t0}
	createRequest(t, s, bare)
	requireEqual(t, bare, getRequest(t, s, tenant, bare.ID), "bare request")
}

func testRequestUpdate(t *testing.T, s privacy.Store) {
	ctx := t.Context()
	tenant, id := newTenantID(t), newRequestID(t)
	createRequest(t, s, fullRequest(tenant, id, t0))
	got := getRequest(t, s, tenant, id)
	stale := *got

	got.Status = privacy.StatusPartiallyCompleted
	got.Outbox = append(got.Outbox[1:], outboxAudit(tenant, id, "evt-3", t0.Add(5*time.Hour)))
	got.Notices = nil
	got.Extension = nil
	got.Pauses[1].To = t0.Add(50 * time.Hour)
	got.UpdatedAt = t0.Add(100 * time.Hour)
	requireNoError(t, s.UpdateRequest(ctx, got), "update request")
	if got.ETag == "" || got.ETag == stale.ETag {
		t.Fatalf("update request: ETag %q, want a new non-empty value", got.ETag)
	}
	requireEqual(t, got, getRequest(t, s, tenant, id), "request after update")

	// The new ETag is the one to use next.
	got.Verification.Attempts++
	requireNoError(t, s.UpdateRequest(ctx, got), "second update request")
	requireEqual(t, got, getRequest(t, s, tenant, id), "request after second update")

	stale.Status = privacy.StatusCancelled
	requireErrorIs(t, s.UpdateRequest(ctx, &stale), privacy.ErrConflict, "update request with stale ETag")
	stale.ETag = ""
	requireErrorIs(t, s.UpdateRequest(ctx, &stale), privacy.ErrConflict, "update request without ETag")
	requireEqual(t, got, getRequest(t, s, tenant, id), "request after refused updates")

	absent := fullRequest(tenant, newRequestID(t), t0)
	absent.ETag = got.ETag
	requireErrorIs(t, s.UpdateRequest(ctx, absent), privacy.ErrNotFound, "update absent request")
}

func testTenantIsolation(t *testing.T, s privacy.Store) {
	ctx := t.Context()
	tenantA, tenantB, id := newTenantID(t), newTenantID(t), newRequestID(t)
	a := fullRequest(tenantA, id, t0)
	createRequest(t, s, a)
	stuckBefore, dueBefore := t0.AddDate(1, 0, 0), t0.AddDate(1, 0, 0) // a is stuck for both reasons

	_, err := s.GetRequest(ctx, tenantB, id)
	requireErrorIs(t, err, privacy.ErrNotFound, "tenant B gets tenant A's request")
	intruder := fullRequest(tenantB, id, t0)
	intruder.Status = privacy.StatusCancelled
	intruder.ETag = a.ETag
	requireErrorIs(t, s.UpdateRequest(ctx, intruder), privacy.ErrNotFound, "tenant B updates tenant A's request")
	page, err := s.ListRequests(ctx, tenantB, privacy.RequestFilter{})
	requireNoError(t, err, "list tenant B's requests")
	if len(page.Requests) != 0 {
		t.Fatalf("tenant B lists %d requests, want none", len(page.Requests))
	}
	stuck, err := s.ListStuck(ctx, tenantB, stuckBefore, dueBefore, 10)
	requireNoError(t, err, "list tenant B's stuck requests")
	if len(stuck) != 0 {
		t.Fatalf("tenant B lists %d stuck requests, want none", len(stuck))
	}

	// The same id exists in two tenants independently.
	b := fullRequest(tenantB, id, t0.Add(time.Minute))
	b.Type, b.Subject.Email = privacy.TypeErase, "other@example.net"
	createRequest(t, s, b)
	b.Status = privacy.StatusCompleted
	requireNoError(t, s.UpdateRequest(ctx, b), "update tenant B's request")
	requireEqual(t, a, getRequest(t, s, tenantA, id), "tenant A's request after tenant B's writes")
	requireEqual(t, b, getRequest(t, s, tenantB, id), "tenant B's request")

	for _, tc := range []struct {
		tenant string
		want   *privacy.Request
	}{{tenantA, a}, {tenantB, b}} {
		page, err := s.ListRequests(ctx, tc.tenant, privacy.RequestFilter{})
		requireNoError(t, err, "list requests")
		requireEqual(t, []*privacy.Request{tc.want}, page.Requests, "requests listed for "+tc.tenant)
	}
	stuck, err = s.ListStuck(ctx, tenantA, stuckBefore, dueBefore, 10)
	requireNoError(t, err, "list tenant A's stuck requests")
	requireEqual(t, []*privacy.Request{a}, stuck, "tenant A's stuck requests")
}
