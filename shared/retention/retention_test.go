package retention

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

func date(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// testTenant returns a tenant answering under CCPA and PIPL with one built-in
// container service and one webhook service.
func testTenant(tb testing.TB) *privacy.Tenant {
	tb.Helper()
	return &privacy.Tenant{ID: "acme", Name: "Acme", Regimes: []string{privacy.RegimeCCPA, privacy.RegimePIPL},
		Services: []privacy.Service{
			{ID: "shop", Kind: privacy.KindCosmos, Container: "orders"},
			{ID: "crm", Kind: privacy.KindWebhook, URL: "https://crm.example"},
			{ID: "erp", Kind: privacy.KindServiceBus, Queue: "erp-tasks"},
			{ID: "desk", Kind: privacy.KindManual},
		}}
}

func TestEmbeddedFloorsParse(t *testing.T) {
	t.Parallel()
	fs := DefaultFloors()
	var ids []string
	for _, f := range fs.All() {
		ids = append(ids, f.ID)
		if !strings.Contains(f.Source, " ") {
			t.Errorf("floor %s: source %q does not look like a citation", f.ID, f.Source)
		}
	}
	want := []string{"us-ca-ccpa-dsr-log", "us-co-cpa-dsr-log", "br-lgpd-incident-register",
		"us-md-no-notice-determination", "us-fl-no-harm-determination", "cn-csl-network-logs"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("floors (-want +got):\n%s", diff)
	}
}

func TestParseFloorsRefusesMalformed(t *testing.T) {
	t.Parallel()
	ok := `{"id":"x","category":"dsr-records","regime":"us-ca-ccpa","months":24,"rule":"r","source":"s 1","status":"P"}`
	for name, floor := range map[string]string{
		"unknown category":  strings.Replace(ok, "dsr-records", "dsr", 1),
		"unknown regime":    strings.Replace(ok, "us-ca-ccpa", "us-xx", 1),
		"regime and always": strings.Replace(ok, `"months"`, `"always":true,"months"`, 1),
		"neither":           strings.Replace(ok, `"regime":"us-ca-ccpa",`, "", 1),
		"no months":         strings.Replace(ok, `24`, `0`, 1),
		"no source":         strings.Replace(ok, `"s 1"`, `""`, 1),
		"bad status":        strings.Replace(ok, `"P"`, `"X"`, 1),
		"bad from":          strings.Replace(ok, `"months"`, `"from":"1 Jan 2026","months"`, 1),
		"repeated id":       ok + "," + ok,
		"not json":          `{`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseFloors([]byte(`{"floors":[` + floor + `]}`)); err == nil {
				t.Error("parsed")
			}
		})
	}
	if _, err := ParseFloors([]byte(`{"floors":[` + ok + `]}`)); err != nil {
		t.Errorf("a good floor was refused: %v", err)
	}
}

func TestAddMonths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Time
		n    int
		want time.Time
	}{
		{date(2030, 1, 31, 2), 1, date(2030, 2, 28, 2)},
		{date(2028, 1, 31, 2), 1, date(2028, 2, 29, 2)},
		{date(2030, 3, 31, 2), -1, date(2030, 2, 28, 2)},
		{date(2030, 3, 31, 2), -24, date(2028, 3, 31, 2)},
		{date(2028, 2, 29, 0), -12, date(2027, 2, 28, 0)},
		{date(2030, 12, 31, 23), 2, date(2031, 2, 28, 23)},
		{date(2030, 5, 15, 0), -6, date(2029, 11, 15, 0)},
	} {
		if got := AddMonths(tc.in, tc.n); !got.Equal(tc.want) {
			t.Errorf("AddMonths(%s, %d) = %s, want %s", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestFloorMinDays(t *testing.T) {
	t.Parallel()
	for months, want := range map[int]int{1: 31, 6: 184, 24: 731, 36: 1096, 60: 1827} {
		if got := (Floor{Months: months}).MinDays(); got != want {
			t.Errorf("MinDays of %d months = %d, want %d", months, got, want)
		}
	}
}

func TestFloorsFor(t *testing.T) {
	t.Parallel()
	fs := DefaultFloors()
	ids := func(fl []Floor) []string {
		var out []string
		for _, f := range fl {
			out = append(out, f.ID)
		}
		return out
	}
	now := date(2030, 1, 1, 2)
	for _, tc := range []struct {
		name     string
		regimes  []string
		estab    []string
		category string
		now      time.Time
		want     []string
	}{
		{"ccpa dsr records", []string{privacy.RegimeCCPA}, nil, CategoryDSRRecords, now, []string{"us-ca-ccpa-dsr-log"}},
		{"gdpr only: no dsr floor (Recital 64)", []string{privacy.RegimeEUGDPR}, nil, CategoryDSRRecords, now, nil},
		{"establishment counts", nil, []string{privacy.RegimeCPA}, CategoryDSRRecords, now, []string{"us-co-cpa-dsr-log"}},
		{"breach records bind every tenant", nil, nil, CategoryBreachRecords, now,
			[]string{"us-md-no-notice-determination", "us-fl-no-harm-determination"}},
		{"lgpd register in force", []string{privacy.RegimeLGPD}, nil, CategoryBreachRecords, now,
			[]string{"br-lgpd-incident-register", "us-md-no-notice-determination", "us-fl-no-harm-determination"}},
		{"lgpd register before 26 Apr 2024", []string{privacy.RegimeLGPD}, nil, CategoryBreachRecords, date(2024, 4, 25, 23),
			[]string{"us-md-no-notice-determination", "us-fl-no-harm-determination"}},
		{"pipl tenant logs", []string{privacy.RegimePIPL}, nil, CategorySystemLogs, now, []string{"cn-csl-network-logs"}},
		{"customer data: no floor", []string{privacy.RegimePIPL, privacy.RegimeCCPA}, nil, CategoryCustomer, now, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := &privacy.Tenant{Regimes: tc.regimes, Establishment: tc.estab}
			if diff := cmp.Diff(tc.want, ids(fs.For(tn, tc.category, tc.now))); diff != "" {
				t.Errorf("floors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	now := date(2030, 1, 31, 2)
	good := func() *Policy {
		return &Policy{ID: "orders", Category: CategoryPayment, Scope: ScopeService, Service: "shop",
			MaxAgeDays: 400, From: FromCreated, TimestampPath: "/createdAt", Action: ActionDelete}
	}
	suite := func() *Policy {
		return &Policy{ID: "closed-dsrs", Category: CategoryDSRRecords, Scope: ScopeSuite, MaxAgeDays: 731,
			From: FromRequestClosed, Action: ActionDelete}
	}
	for _, tc := range []struct {
		name      string
		p         *Policy
		edit      func(*Policy)
		code      string // "" accepted
		field     string
		inMessage []string
	}{
		{name: "service policy", p: good()},
		{name: "suite policy at the floor", p: suite()},
		{name: "logs at the floor", p: good(), edit: func(p *Policy) { p.Category, p.MaxAgeDays = CategorySystemLogs, 184 }},
		{name: "ccpa floor", p: suite(), edit: func(p *Policy) { p.MaxAgeDays = 730 },
			code: "below-legal-floor", field: "maxAgeDays", inMessage: []string{"us-ca-ccpa-dsr-log", "us-ca-ccpa", "11 CCR §7101", "731 days"}},
		{name: "csl floor", p: good(), edit: func(p *Policy) { p.Category, p.MaxAgeDays = CategorySystemLogs, 90 },
			code: "below-legal-floor", field: "maxAgeDays", inMessage: []string{"cn-csl-network-logs", "cn-pipl", "Art. 21(3)"}},
		{name: "always floor", p: suite(), edit: func(p *Policy) { p.Category, p.From, p.MaxAgeDays = CategoryBreachRecords, FromIncidentClosed, 365 },
			code: "below-legal-floor", field: "maxAgeDays", inMessage: []string{"us-md-no-notice-determination", "§14-3504(b)(4)"}},
		{name: "bad id", p: good(), edit: func(p *Policy) { p.ID = "X" }, code: "invalid-retention-policy", field: "id"},
		{name: "unknown category", p: good(), edit: func(p *Policy) { p.Category = "profile" }, code: "invalid-retention-policy", field: "category"},
		{name: "suite category on a service", p: good(), edit: func(p *Policy) { p.Category = CategoryDSRRecords }, code: "invalid-retention-policy", field: "category"},
		{name: "service category on the suite", p: suite(), edit: func(p *Policy) { p.Category = CategoryCustomer }, code: "invalid-retention-policy", field: "category"},
		{name: "suite with a service", p: suite(), edit: func(p *Policy) { p.Service = "shop" }, code: "invalid-retention-policy", field: "service"},
		{name: "suite dsr records from created", p: suite(), edit: func(p *Policy) { p.From = FromCreated }, code: "invalid-retention-policy", field: "from"},
		{name: "unknown service", p: good(), edit: func(p *Policy) { p.Service = "nope" }, code: "unknown-service", field: "service"},
		{name: "webhook service, through its purge", p: good(), edit: func(p *Policy) { p.Service, p.TimestampPath = "crm", "" }},
		{name: "webhook service with a timestamp path", p: good(), edit: func(p *Policy) { p.Service = "crm" }, code: "invalid-retention-policy", field: "timestampPath"},
		{name: "service bus service, through its purge", p: good(), edit: func(p *Policy) { p.Service, p.TimestampPath = "erp", "" }},
		{name: "service bus service with a timestamp path", p: good(), edit: func(p *Policy) { p.Service = "erp" }, code: "invalid-retention-policy", field: "timestampPath"},
		{name: "manual service", p: good(), edit: func(p *Policy) { p.Service = "desk" }, code: "retention-scope-not-available", field: "service"},
		{name: "service from request-closed", p: good(), edit: func(p *Policy) { p.From = FromRequestClosed }, code: "invalid-retention-policy", field: "from"},
		{name: "no timestamp path", p: good(), edit: func(p *Policy) { p.TimestampPath = "" }, code: "invalid-retention-policy", field: "timestampPath"},
		{name: "bad timestamp path", p: good(), edit: func(p *Policy) { p.TimestampPath = "/a//b" }, code: "invalid-retention-policy", field: "timestampPath"},
		{name: "unknown scope", p: good(), edit: func(p *Policy) { p.Scope = "container" }, code: "invalid-retention-policy", field: "scope"},
		{name: "anonymise a built-in container", p: good(), edit: func(p *Policy) { p.Action = ActionAnonymise }, code: "retention-action-not-available", field: "action"},
		{name: "anonymise closed requests", p: suite(), edit: func(p *Policy) { p.Action = ActionAnonymise }},
		{name: "anonymise export packages", p: suite(), edit: func(p *Policy) { p.Category, p.From, p.Action = CategoryExportPackages, FromCreated, ActionAnonymise },
			code: "retention-action-not-available", field: "action"},
		{name: "storage-only on a built-in container", p: good(), edit: func(p *Policy) { p.Action = ActionStorageOnly }},
		{name: "storage-only at a webhook service", p: good(), edit: func(p *Policy) { p.Service, p.TimestampPath, p.Action = "crm", "", ActionStorageOnly },
			code: "retention-action-not-available", field: "action"},
		{name: "storage-only of closed requests", p: suite(), edit: func(p *Policy) { p.Action = ActionStorageOnly }, code: "retention-action-not-available", field: "action"},
		{name: "unknown action", p: good(), edit: func(p *Policy) { p.Action = "shred" }, code: "invalid-retention-policy", field: "action"},
		{name: "zero age", p: good(), edit: func(p *Policy) { p.MaxAgeDays = 0 }, code: "invalid-retention-policy", field: "maxAgeDays"},
		{name: "age too long", p: good(), edit: func(p *Policy) { p.MaxAgeDays = MaxAgeDaysLimit + 1 }, code: "invalid-retention-policy", field: "maxAgeDays"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.edit != nil {
				tc.edit(tc.p)
			}
			err := Validate(testTenant(t), tc.p, DefaultFloors(), now)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			pe, ok := privacy.AsError(err)
			if !ok {
				t.Fatalf("error %v is not a *privacy.Error", err)
			}
			if diff := cmp.Diff([]any{privacy.KindUnprocessable, tc.code, tc.field}, []any{pe.Kind, pe.Code, pe.Field}); diff != "" {
				t.Errorf("kind, code, field (-want +got):\n%s", diff)
			}
			for _, s := range tc.inMessage {
				if !strings.Contains(pe.Message, s) {
					t.Errorf("message %q does not name %q", pe.Message, s)
				}
			}
		})
	}
}

func TestNewPlansCutoffs(t *testing.T) {
	t.Parallel()
	tn := testTenant(t)
	tn.TimeZone = "Europe/Berlin"
	tn.RetentionPolicies = []Policy{
		{ID: "orders", Category: CategoryPayment, Scope: ScopeService, Service: "shop", MaxAgeDays: 30, Action: ActionDelete},
		{ID: "dsrs", Category: CategoryDSRRecords, Scope: ScopeSuite, MaxAgeDays: 731, Action: ActionDelete},
		{ID: "logs", Category: CategorySystemLogs, Scope: ScopeService, Service: "shop", MaxAgeDays: 200, Action: ActionDelete},
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		want []PolicyPlan
	}{
		{"month end", date(2030, 3, 31, 2), []PolicyPlan{
			{PolicyID: "orders", Category: CategoryPayment, Scope: ScopeService, Service: "shop", Action: ActionDelete, Cutoff: date(2030, 3, 1, 2)},
			{PolicyID: "dsrs", Category: CategoryDSRRecords, Scope: ScopeSuite, Action: ActionDelete, Cutoff: date(2028, 3, 30, 2),
				FloorCutoff: date(2028, 3, 31, 2), Floors: []string{"us-ca-ccpa-dsr-log"}},
			{PolicyID: "logs", Category: CategorySystemLogs, Scope: ScopeService, Service: "shop", Action: ActionDelete, Cutoff: date(2029, 9, 12, 2),
				FloorCutoff: date(2029, 9, 30, 2), Floors: []string{"cn-csl-network-logs"}},
		}},
		// 30 Mar 2031: Europe/Berlin moved to summer time that night; the
		// run's cutoffs are in UTC and do not move with it.
		{"spring forward in the tenant's zone", time.Date(2031, 3, 30, 4, 0, 0, 0, time.FixedZone("CEST", 2*3600)), []PolicyPlan{
			{PolicyID: "orders", Category: CategoryPayment, Scope: ScopeService, Service: "shop", Action: ActionDelete, Cutoff: date(2031, 2, 28, 2)},
			{PolicyID: "dsrs", Category: CategoryDSRRecords, Scope: ScopeSuite, Action: ActionDelete, Cutoff: date(2029, 3, 29, 2),
				FloorCutoff: date(2029, 3, 30, 2), Floors: []string{"us-ca-ccpa-dsr-log"}},
			{PolicyID: "logs", Category: CategorySystemLogs, Scope: ScopeService, Service: "shop", Action: ActionDelete, Cutoff: date(2030, 9, 11, 2),
				FloorCutoff: date(2030, 9, 30, 2), Floors: []string{"cn-csl-network-logs"}},
		}},
		{"leap day", date(2032, 2, 29, 2), []PolicyPlan{
			{PolicyID: "orders", Category: CategoryPayment, Scope: ScopeService, Service: "shop", Action: ActionDelete, Cutoff: date(2032, 1, 30, 2)},
			{PolicyID: "dsrs", Category: CategoryDSRRecords, Scope: ScopeSuite, Action: ActionDelete, Cutoff: date(2030, 2, 28, 2),
				FloorCutoff: date(2030, 2, 28, 2), Floors: []string{"us-ca-ccpa-dsr-log"}},
			{PolicyID: "logs", Category: CategorySystemLogs, Scope: ScopeService, Service: "shop", Action: ActionDelete, Cutoff: date(2031, 8, 13, 2),
				FloorCutoff: date(2031, 8, 29, 2), Floors: []string{"cn-csl-network-logs"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := NewPlans(tn, DefaultFloors(), tc.now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("plans (-want +got):\n%s", diff)
			}
			for _, p := range got {
				if p.Cutoff.Location() != time.UTC {
					t.Errorf("policy %s: cutoff %s is not in UTC", p.PolicyID, p.Cutoff)
				}
			}
		})
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	now := date(2030, 6, 30, 2)
	plan := PolicyPlan{PolicyID: "logs", Category: CategorySystemLogs, Scope: ScopeService, Service: "shop",
		Cutoff: date(2030, 1, 1, 0), FloorCutoff: date(2029, 12, 30, 2)}
	old, floored, fresh := date(2029, 6, 1, 0), date(2029, 12, 31, 0), date(2030, 3, 1, 0)
	hold := func(h privacy.Hold) []privacy.Hold { h.ID = "h1"; return []privacy.Hold{h} }
	for _, tc := range []struct {
		name   string
		holds  []privacy.Hold
		item   Item
		want   Outcome
		holdID string
	}{
		{"past everything", nil, Item{Event: old, SubjectHash: "s1"}, Purge, ""},
		{"not due", nil, Item{Event: fresh}, NotDue, ""},
		{"exactly at the cutoff is not due", nil, Item{Event: plan.Cutoff}, NotDue, ""},
		{"within the floor", nil, Item{Event: floored}, KeptByFloor, ""},
		{"exactly at the floor cutoff is kept", nil, Item{Event: plan.FloorCutoff}, KeptByFloor, ""},
		{"tenant hold", hold(privacy.Hold{Scope: privacy.HoldTenant}), Item{Event: old}, KeptByHold, "h1"},
		{"hold beats floor", hold(privacy.Hold{Scope: privacy.HoldTenant}), Item{Event: floored}, KeptByHold, "h1"},
		{"hold does not touch what is not due", hold(privacy.Hold{Scope: privacy.HoldTenant}), Item{Event: fresh}, NotDue, ""},
		{"released hold", hold(privacy.Hold{Scope: privacy.HoldTenant, ReleasedAt: now}), Item{Event: old}, Purge, ""},
		{"subject hold, same subject", hold(privacy.Hold{Scope: privacy.HoldSubject, SubjectHash: "s1"}), Item{Event: old, SubjectHash: "s1"}, KeptByHold, "h1"},
		{"subject hold, other subject", hold(privacy.Hold{Scope: privacy.HoldSubject, SubjectHash: "s1"}), Item{Event: old, SubjectHash: "s2"}, Purge, ""},
		{"subject hold, item names no subject", hold(privacy.Hold{Scope: privacy.HoldSubject, SubjectHash: ""}), Item{Event: old}, Purge, ""},
		{"service hold", hold(privacy.Hold{Scope: privacy.HoldService, Service: "shop"}), Item{Event: old}, KeptByHold, "h1"},
		{"other service's hold", hold(privacy.Hold{Scope: privacy.HoldService, Service: "crm"}), Item{Event: old}, Purge, ""},
		{"category hold", hold(privacy.Hold{Scope: privacy.HoldDataCategory, DataCategory: CategorySystemLogs}), Item{Event: old}, KeptByHold, "h1"},
		{"other category's hold", hold(privacy.Hold{Scope: privacy.HoldDataCategory, DataCategory: CategoryPayment}), Item{Event: old}, Purge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := &privacy.Tenant{Holds: tc.holds}
			got, h := plan.Decide(tn, tc.item)
			holdID := ""
			if h != nil {
				holdID = h.ID
			}
			if diff := cmp.Diff([]any{tc.want, tc.holdID}, []any{got, holdID}); diff != "" {
				t.Errorf("outcome, hold (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCategoryHoldDefersNoErasure(t *testing.T) {
	t.Parallel()
	h := privacy.Hold{Scope: privacy.HoldDataCategory, DataCategory: CategoryPayment}
	if h.Covers("s1", "shop") {
		t.Error("a category hold deferred a DSR erasure")
	}
}

func TestReportCount(t *testing.T) {
	t.Parallel()
	var c Counts
	for _, o := range []struct {
		o  Outcome
		at time.Time
	}{{Purge, date(2029, 5, 1, 0)}, {NotDue, date(2031, 1, 1, 0)}, {KeptByHold, date(2020, 1, 1, 0)},
		{Purge, date(2028, 1, 1, 0)}, {KeptByFloor, date(2029, 12, 31, 0)}, {Purge, date(2029, 1, 1, 0)}} {
		c.Count(o.o, o.at)
	}
	var r PolicyReport
	r.Add(c)
	r.Add(Counts{Scanned: 1, Failed: 1})
	want := PolicyReport{Scanned: 6, Failed: 1, Purged: 3, KeptByHold: 1, KeptByFloor: 1, Oldest: date(2028, 1, 1, 0), Newest: date(2029, 5, 1, 0)}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}
