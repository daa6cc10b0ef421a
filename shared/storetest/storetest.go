// Package storetest is the conformance suite of the privacy.Store port. Each
// adapter's tests call Run with a constructor; the in-memory and SQLite adapters
// run it always, the Cosmos adapter when its endpoint is configured. It tests the
// port contract only, never an adapter's internals.
//
// The suite creates tenants with random ids, so it can share a backend with
// other runs, and it only writes through the port. Times are UTC with
// nanoseconds and must round-trip to at least the microsecond; audit events must
// round-trip exactly, since their hash covers the time.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/privops/privops/shared/privacy"
)

// Run runs the suite. newStore returns the store a subtest uses; it may return
// a fresh store per call or share one backend (tenant ids never collide), and
// registers its own cleanup on tb.
func Run(t *testing.T, newStore func(tb testing.TB) privacy.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s privacy.Store)
	}{
		{"Tenants", testTenants},
		{"RequestRoundTrip", testRequestRoundTrip},
		{"RequestUpdate", testRequestUpdate},
		{"TenantIsolation", testTenantIsolation},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ListRequests", testListRequests},
		{"ListRequestsBadCursor", testBadCursor},
		{"ListStuck", testListStuck},
		{"AuditChain", testAuditChain},
		{"AuditConcurrentAppends", testAuditConcurrent},
		{"AuditIdempotent", testAuditIdempotent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, newStore(t))
		})
	}
}

// t0 is the suite's epoch: month-end, with nanoseconds to catch lost precision.
var t0 = time.Date(2030, 1, 31, 2, 0, 0, 123456789, time.UTC)

// diffOpts compares documents field by field: a nil and an empty slice or map
// are the same document, and times must agree to the microsecond.
var diffOpts = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Microsecond)}

// newTenantID returns a valid tenant id no other run uses.
func newTenantID(tb testing.TB) string {
	tb.Helper()
	return "st-" + randomHex(tb, 8)
}

// newRequestID returns a request id no other run uses.
func newRequestID(tb testing.TB) string {
	tb.Helper()
	return "req-" + randomHex(tb, 8)
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random id: %v", err)
	}
	return hex.EncodeToString(b)
}

// fullTenant returns a tenant with every field set, so a round trip checks all
// of them. It is deterministic: two calls return equal tenants.
func fullTenant(id string) *privacy.Tenant {
	return &privacy.Tenant{
		ID:             id,
		Name:           "Example Controller GmbH",
		Regimes:        []string{privacy.RegimeEUGDPR, privacy.RegimeCCPA},
		Establishment:  []string{privacy.RegimeEUGDPR},
		TimeZone:       "Europe/Berlin",
		PortalOrigins:  []string{"https://privacy.example.com", "http://localhost:8080"},
		PIPLDays:       30,
		LGPDSmallAgent: true,
		DefaultDays:    30,
		Contact:        "privacy@example.com",
		Services: []privacy.Service{{ID: "crm", Name: "CRM", Kind: privacy.KindWebhook,
			Actions:    []privacy.Action{privacy.ActionExport, privacy.ActionErase, privacy.ActionLookup},
			Categories: []privacy.Category{privacy.CategoryProfile}, Identifiers: []string{"email"},
			URL:     "https://crm.example.com/privops",
			Secrets: []privacy.ServiceSecret{{ID: "k1", Value: "c2VjcmV0", CreatedAt: t0}},
			Queue:   "q", Container: "people", IdentityPaths: map[string]string{"email": "/email"},
			Instructions: "none", CreatedAt: t0, UpdatedAt: t0}},
		Holds: []privacy.Hold{{ID: "h1", Scope: privacy.HoldService, Service: "crm", Reason: "litigation",
			PlacedBy: "admin:bob", PlacedAt: t0, ReleasedAt: t0.Add(time.Hour), SubjectHash: "h", DataCategory: "payment",
			Category: privacy.HoldLegalClaims, RedrivenAt: t0.Add(2 * time.Hour), SealedEmail: "1:c2VhbGVk"}},
		RetentionPolicies: []privacy.RetentionPolicy{{ID: "crm-customers", Category: "customer", Scope: "service", Service: "crm",
			MaxAgeDays: 730, From: "last-modified", TimestampPath: "/updatedAt", Action: "delete", CreatedAt: t0, UpdatedAt: t0}},
		Retention: json.RawMessage(`{"recent":[{"id":"run-1","policies":[]}]}`),
		Breach: &privacy.BreachSettings{Contacts: []privacy.SecurityContact{{Email: "soc@example.com", Role: privacy.ContactPrimary, Language: "zh-CN"}},
			WebhookURL: "https://hooks.example.com/breach", WebhookSecret: "0123456789abcdef", Services: []string{"blob"}, Regions: []string{"westeurope"},
			SLAHours: 12, AutoApproveHighRisk: true},
		InboundKeys: []privacy.ServiceSecret{{ID: "hr-2030", Value: "aW5ib3VuZA", CreatedAt: t0},
			{ID: "hr-2029", Value: "b2xk", CreatedAt: t0.AddDate(-1, 0, 0)}},
		Brand:                  privacy.Brand{PrimaryColor: "#1d4ed8", HeaderColor: "#111827", LogoURL: "https://privacy.example.com/logo.svg"},
		AllowPrivateConnectors: true,
		ErasureGraceDays:       new(14),
		ExportLinkDays:         7,
		Status:                 privacy.TenantSuspended,
		Suspension:             &privacy.Suspension{At: t0, By: "operator:olga", Reason: "unpaid invoices"},
		Offboarding: &privacy.Offboarding{ID: "off_1", Choice: privacy.OffboardReturnThenDelete, RequestedAt: t0, By: "operator:olga",
			PurgeAfter: t0.Add(720 * time.Hour), Previous: privacy.TenantSuspended,
			Package: &privacy.OffboardPackage{Blob: id + "/offboarding/off_1.zip", Bytes: 2048, Files: 9, CreatedAt: t0},
			Blocked: &privacy.OffboardBlock{Since: t0, Holds: []privacy.HoldRef{{ID: "h1", Scope: privacy.HoldTenant, Category: privacy.HoldLegalClaims}}},
			Purge:   &privacy.OffboardPurge{StartedAt: t0, Found: map[string]int{"requests": 3}, Done: []string{"blobs"}}},
		PendingAudit: []privacy.AuditEvent{{ID: "aud-1", TenantID: privacy.OperatorTenant, At: t0, Actor: "operator:olga",
			Action: "tenant.suspended", Target: "tenant/" + id, Details: map[string]string{"reason": "unpaid invoices"}}},
		DigestSentOn: "2030-01-01",
		AdminOps:     []privacy.IdempotentOp{{KeyHash: "kh-1", Hash: "h-1", Ref: "h1", At: t0}},
		CreatedAt:    t0,
		UpdatedAt:    t0.Add(time.Hour),
	}
}

// fullRequest returns an open request with every field set, nested slices and
// pointers included. It is deterministic: two calls return equal requests.
func fullRequest(tenantID, id string, created time.Time) *privacy.Request {
	return &privacy.Request{
		ID:                 id,
		TenantID:           tenantID,
		Type:               privacy.TypeRectify,
		Status:             privacy.StatusInProgress,
		Channel:            privacy.ChannelAdmin,
		SubmittedBy:        "admin:alice",
		Details:            "please also remove the newsletter address",
		ExternalRef:        "HR-4711",
		Language:           "zh-Hans",
		IdempotencyKeyHash: "ik-3b1f",
		BodyHash:           "bh-77aa",
		Subject:            privacy.Subject{Email: "subject@example.org", Country: "US", Region: "CA"},
		SubjectHash:        "sh-0c4e",
		Categories:         []privacy.Category{privacy.CategoryProfile, privacy.CategoryBilling},
		Changes:            []privacy.FieldChange{{Field: "name", Value: "Sam Example"}, {Field: "city", Value: "Berlin"}},
		Purposes:           []string{"marketing"},
		Verification: privacy.Verification{CodeHash: "ch-19d2", ExpiresAt: created.Add(15 * time.Minute),
			Attempts: 1, Sends: 2},
		ReceivedAt:         created,
		IdentityVerifiedAt: created.Add(3 * time.Minute),
		Pauses: []privacy.Pause{
			{From: created.Add(time.Hour), To: created.Add(26 * time.Hour), Reason: "clarification requested",
				Until: created.Add(25 * time.Hour), Unanswered: true},
			{From: created.Add(48 * time.Hour), Reason: "clarification requested again", Until: created.Add(30 * 24 * time.Hour)}, // still open
		},
		Extension: &privacy.Extension{Reason: "complex request", By: "admin:bob", At: created.Add(72 * time.Hour),
			NoticedAt: created.Add(73 * time.Hour)},
		Due: privacy.Due{At: created.AddDate(0, 3, 0), Regime: privacy.RegimeEUGDPR, Rule: "GDPR Art. 12(3)",
			InitialAt: created.AddDate(0, 1, 0), Extended: true, Paused: true},
		Decision: &privacy.Decision{By: "admin:bob", At: created.Add(2 * time.Hour), Reason: "identity confirmed"},
		Outbox: []privacy.OutboxEvent{
			outboxAudit(tenantID, id, "evt-1", created.Add(2*time.Hour)),
			{ID: "evt-2", At: created.Add(2 * time.Hour), Queue: "notify", Message: &privacy.Event{
				SpecVersion: "1.0", ID: "evt-2", Source: "/privops", Type: privacy.EventNotice,
				Time: created.Add(2 * time.Hour), Subject: "request/" + id, DataContentType: "application/json",
				TenantID: tenantID, Data: json.RawMessage(`{"requestId":"` + id + `","notice":"approved"}`)}},
		},
		Notices: []privacy.SentNotice{{EventID: "evt-0", Type: privacy.NoticeVerified,
			SentAt: created.Add(4 * time.Minute)}},
		AdminOps: []privacy.IdempotentOp{{KeyHash: "kh-2", Hash: "h-2", At: created.Add(2 * time.Hour)}},
		Tasks: []privacy.Task{{ID: id + ".crm.export", Service: "crm", ServiceName: "CRM", Kind: privacy.KindWebhook,
			Action: privacy.ActionExport, Status: privacy.TaskRunning, Attempts: 2, NotBefore: created.Add(5 * time.Hour),
			LeaseUntil: created.Add(6 * time.Hour), Reason: "retrying", Items: 3, Blob: tenantID + "/x.json", Bytes: 42,
			Verification: privacy.VerifyAbsent, VerifiedAt: created.Add(7 * time.Hour), By: "admin:bob", Note: "n",
			Evidence: tenantID + "/e.pdf", AnswerBy: created.Add(30 * time.Hour), HoldID: "h1", HoldCategory: privacy.HoldLegalClaims,
			StartedAt: created.Add(5 * time.Hour), FinishedAt: created.Add(7 * time.Hour),
			UpdatedAt: created.Add(7 * time.Hour)}},
		GraceUntil: created.Add(30 * 24 * time.Hour),
		Package: &privacy.Package{Blob: tenantID + "/p.zip", Bytes: 1234, Files: 3, CreatedAt: created.Add(8 * time.Hour),
			ExpiresAt: created.Add(8*time.Hour + 7*24*time.Hour), RemovedAt: created.Add(60 * 24 * time.Hour)},
		Certificate: `{"certificate":{"requestId":"r"},"protected":"e30","payload":"e30","signature":"AA"}` + "\n",
		WakeAt:      created.Add(6 * time.Hour),
		Round:       1,
		StrippedAt:  created.Add(90 * 24 * time.Hour),
		CreatedAt:   created,
		UpdatedAt:   created.Add(73 * time.Hour),
	}
}

// outboxAudit returns an outbox event that appends an audit entry.
func outboxAudit(tenantID, requestID, id string, at time.Time) privacy.OutboxEvent {
	return privacy.OutboxEvent{ID: id, At: at, Audit: &privacy.AuditEvent{ID: id, TenantID: tenantID, At: at,
		Actor: "admin:bob", Action: "request.approved", Target: "request/" + requestID, SubjectHash: "sh-0c4e",
		Details: map[string]string{"services": "3"}}}
}

// requireAllFieldsSet fails if a top-level field of the struct v, other than
// those named in skip, holds its zero value. It keeps the fixtures complete when
// the domain gains a field, so the round-trip tests keep covering every field.
func requireAllFieldsSet(tb testing.TB, v any, skip ...string) {
	tb.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if f.IsExported() && rv.Field(i).IsZero() && !slices.Contains(skip, f.Name) {
			tb.Errorf("fixture %s leaves field %s zero; set it so the round trip covers it", rv.Type(), f.Name)
		}
	}
}

// requireErrorIs fails unless err wraps target.
func requireErrorIs(tb testing.TB, err, target error, what string) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("%s: got error %v, want one wrapping %v", what, err, target)
	}
}

// requireNoError fails on err.
func requireNoError(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// requireEqual fails with a (-want +got) diff unless want and got are the same
// document.
func requireEqual(tb testing.TB, want, got any, what string) {
	tb.Helper()
	if d := cmp.Diff(want, got, diffOpts); d != "" {
		tb.Fatalf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// createTenant creates a full tenant with a new id and returns it.
func createTenant(tb testing.TB, s privacy.Store) *privacy.Tenant {
	tb.Helper()
	t := fullTenant(newTenantID(tb))
	requireNoError(tb, s.CreateTenant(tb.Context(), t), "create tenant")
	return t
}

// createRequest stores r and fails the test on error.
func createRequest(tb testing.TB, s privacy.Store, r *privacy.Request) {
	tb.Helper()
	requireNoError(tb, s.CreateRequest(tb.Context(), r), "create request "+r.ID)
}

// getRequest reads a request and fails the test on error.
func getRequest(tb testing.TB, s privacy.Store, tenantID, id string) *privacy.Request {
	tb.Helper()
	r, err := s.GetRequest(tb.Context(), tenantID, id)
	requireNoError(tb, err, "get request "+id)
	return r
}
