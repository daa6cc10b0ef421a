package cosmos

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/storetest"
)

// TestPathExpr: an identity path becomes a bracket-notation property
// expression; anything else is refused before a query is written.
func TestPathExpr(t *testing.T) {
	t.Parallel()
	long := "/" + strings.Repeat("a", 200)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"top level", "/email", `c["email"]`},
		{"nested", "/contact/email", `c["contact"]["email"]`},
		{"dash and digit names", "/profile/e-mail/2fa_phone", `c["profile"]["e-mail"]["2fa_phone"]`},
		{"upper case", "/Contact/EMail", `c["Contact"]["EMail"]`},
		{"empty", "", ""},
		{"root only", "/", ""},
		{"no leading slash", "contact/email", ""},
		{"empty segment", "/contact//email", ""},
		{"trailing slash", "/contact/", ""},
		{"quote", `/contact"]/email`, ""},
		{"injection", `/a"] = @value OR 1=1 --`, ""},
		{"space", "/contact email", ""},
		{"dot", "/contact.email", ""},
		{"bracket", "/contact[0]", ""},
		{"backslash", `/a\b`, ""},
		{"non-ASCII letter", "/kontakt/e-maïl", ""},
		{"over 200 bytes", long, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := pathExpr(tc.path)
			if tc.want == "" {
				var pe *privacy.Error
				if !errors.As(err, &pe) || pe.Code != "invalid-identity-path" {
					t.Fatalf("pathExpr(%q) = %q, %v; want an invalid-identity-path error", tc.path, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("pathExpr(%q): %v", tc.path, err)
			}
			if got != tc.want {
				t.Errorf("pathExpr(%q) = %s, want %s", tc.path, got, tc.want)
			}
		})
	}
}

// TestItemQuerySQL: the WHERE condition both operations send, with the
// tenant's condition always first.
func TestItemQuerySQL(t *testing.T) {
	t.Parallel()
	s := unreachableStore(t)
	c, filter, err := s.itemQuery("t-1", "people", "/contact/email")
	if err != nil {
		t.Fatal(err)
	}
	if want := `c.tenantId = @tenantId AND c["contact"]["email"] = @value`; filter != want {
		t.Errorf("filter = %s, want %s", filter, want)
	}
	if c.ID() != "people" {
		t.Errorf("container %s, want people", c.ID())
	}
	if again, _, _ := s.itemQuery("t-2", "people", "/email"); again != c {
		t.Error("the container client was not cached")
	}
}

// unreachableStore is a store whose endpoint nothing answers: for what must
// be decided before any call.
func unreachableStore(tb testing.TB) *Store {
	tb.Helper()
	s, err := New(Config{Endpoint: "https://127.0.0.1:1/", Auth: AuthKey, Key: emulatorKey})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// TestItemQueryRefusesBeforeAnyCall: a bad container name or path and an
// empty tenant id are refused without a round trip (the store here has no
// reachable endpoint).
func TestItemQueryRefusesBeforeAnyCall(t *testing.T) {
	t.Parallel()
	s := unreachableStore(t)
	for _, tc := range []struct {
		name, tenant, container, path string
	}{
		{"store's requests container", "t-1", RequestsContainer, "/email"},
		{"store's audit container", "t-1", AuditContainer, "/email"},
		{"store's tenants container", "t-1", TenantsContainer, "/email"},
		{"short name", "t-1", "ab", "/email"},
		{"upper case name", "t-1", "People", "/email"},
		{"41 characters", "t-1", "a234567890123456789012345678901234567890x", "/email"},
		{"slash in name", "t-1", "peo/ple", "/email"},
		{"bad path", "t-1", "people", "/e mail"},
		{"no tenant", "", "people", "/email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := s.QueryItems(t.Context(), tc.tenant, tc.container, tc.path, "x", func([]byte) error { return nil }); err == nil {
				t.Error("query accepted")
			}
			if _, err := s.DeleteItems(t.Context(), tc.tenant, tc.container, tc.path, "x"); err == nil {
				t.Error("delete accepted")
			}
			if tc.path != "/email" {
				return
			}
			if err := s.PutItem(t.Context(), tc.tenant, tc.container, []byte(`{"id":"1"}`)); err == nil {
				t.Error("put accepted")
			}
			if err := s.EnsureDataContainer(t.Context(), tc.container); err == nil && tc.tenant != "" {
				t.Error("ensure accepted")
			}
		})
	}
}

// TestItemRewriting: a stored item gets the caller's tenantId whatever it
// says; a query result loses Cosmos's system properties and keeps the rest,
// in order and to the digit.
func TestItemRewriting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"adds tenantId", `{"id":"1","name":"Sam"}`, `{"id":"1","name":"Sam","tenantId":"t-a"}`},
		{"overwrites another tenant's", `{"tenantId":"t-b","id":"1"}`, `{"id":"1","tenantId":"t-a"}`},
		{"drops a duplicate tenantId", `{"tenantId":"t-b","id":"1","tenantId":"t-c"}`, `{"id":"1","tenantId":"t-a"}`},
		{"keeps values as written", `{"id":"x","n":12345678901234567890,"o":{"tenantId":"t-b"},"a":[1, 2]}`,
			`{"id":"x","n":12345678901234567890,"o":{"tenantId":"t-b"},"a":[1, 2],"tenantId":"t-a"}`},
		{"no id", `{"name":"no id"}`, ""},
		{"numeric id", `{"id":1}`, ""},
		{"empty id", `{"id":""}`, ""},
		{"id with a slash", `{"id":"a/b"}`, ""},
		{"not an object", `["id"]`, ""},
		{"two objects", `{"id":"1"}{"id":"2"}`, ""},
		{"truncated", `{"id":"1"`, ""},
	} {
		t.Run("put/"+tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := withTenant([]byte(tc.in), "t-a")
			if tc.want == "" {
				if err == nil {
					t.Fatalf("withTenant(%s) = %s, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("withTenant(%s) =\n%s\nwant\n%s", tc.in, got, tc.want)
			}
		})
	}
	in := `{"id":"1","contact":{"email":"sam@example.org","_ts":1},"_rid":"AAAA","_self":"dbs/x/colls/y/docs/z",` +
		`"_etag":"\"0100\"","_attachments":"attachments/","_ts":1700000000,"_own":true,"tenantId":"t-a"}`
	want := `{"id":"1","contact":{"email":"sam@example.org","_ts":1},"_own":true,"tenantId":"t-a"}`
	got, err := withoutSystemProperties([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("withoutSystemProperties =\n%s\nwant\n%s", got, want)
	}
}

// dataContainers are the containers storetest.RunItems uses.
var dataContainers = []string{"people", "orders", "logs", "other"}

// newItemsStore is a test store with the data containers created.
func newItemsStore(tb testing.TB) (*Store, *recorder) {
	tb.Helper()
	s, rec := newTestStore(tb)
	for _, name := range dataContainers {
		if err := s.EnsureDataContainer(tb.Context(), name); err != nil {
			tb.Fatal(err)
		}
	}
	rec.take()
	return s, rec
}

// TestItems runs the DataItems conformance suite. Against the emulator it
// runs whole: @vercel/cosmosdb-server evaluates bracket-notation property
// paths (c["contact"]["email"]) and nested paths in WHERE as Cosmos does. It
// deviates in two ways that the suite cannot see: it ignores a query's
// partition key (the query's tenantId condition keeps tenants apart there;
// see itemQuery), and it adds no _attachments property. Against the emulator
// every query result is one page (it pages only when a page size is sent,
// and these queries send none), so results of several pages, which Cosmos
// returns past its default page size, are not exercised here.
func TestItems(t *testing.T) {
	t.Parallel()
	s, _ := newItemsStore(t)
	storetest.RunItems(t, s)
}

// TestExpiringItems runs the conformance suite of the retention sweep's
// paging by age and deletes by id.
func TestExpiringItems(t *testing.T) {
	t.Parallel()
	s, _ := newItemsStore(t)
	storetest.RunExpiringItems(t, s)
	storetest.RunStorageOnlyItems(t, s)
}

// TestExpiringItemsRoundTrips counts the calls a page of the sweep makes:
// one query for the page, one point delete per item.
func TestExpiringItemsRoundTrips(t *testing.T) {
	t.Parallel()
	s, rec := newItemsStore(t)
	ctx := t.Context()
	for i := range 5 {
		if err := s.PutItem(ctx, "acme", "logs", []byte(`{"id":"i`+string(rune('0'+i))+`","at":"2020-01-01T00:00:00Z"}`)); err != nil {
			t.Fatal(err)
		}
	}
	rec.take()
	var ids []string
	if err := s.ScanItemsBefore(ctx, "acme", "logs", "/at", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), "", 3, func(id string, _ []byte) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	scan := len(rec.take())
	n, err := s.DeleteItemIDs(ctx, "acme", "logs", ids)
	if err != nil || n != 3 {
		t.Fatalf("deleted %d, %v", n, err)
	}
	del := len(rec.take())
	t.Logf("a page of 3: %d call(s) to scan, %d to delete: %.2f round trips per purged item", scan, del, float64(scan+del)/3)
	if scan != 1 || del != 3 {
		t.Errorf("a page of 3 took %d scan and %d delete calls, want 1 and 3", scan, del)
	}
}

// TestItemsRoundTrips counts the calls of each operation (see items.go) and
// checks what lands and what comes back: one partition, the caller's tenant,
// no system properties.
func TestItemsRoundTrips(t *testing.T) {
	t.Parallel()
	s, rec := newItemsStore(t)
	ctx := t.Context()
	a, b := "it-"+randomID(t), "it-"+randomID(t)

	// The item claims tenant b; it lands in a's partition as a's.
	if err := s.PutItem(ctx, a, "people", []byte(`{"id":"p1","tenantId":"`+b+`","contact":{"email":"sam@example.org"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutItem(ctx, a, "people", []byte(`{"id":"p2","contact":{"email":"sam@example.org"}}`)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{"upsert": 2}, count(rec.take(), false)); d != "" {
		t.Errorf("put calls (-want +got):\n%s", d)
	}

	var got []map[string]any
	if err := s.QueryItems(ctx, a, "people", "/contact/email", "sam@example.org", func(item []byte) error {
		var v map[string]any
		if err := json.Unmarshal(item, &v); err != nil {
			return err
		}
		got = append(got, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	calls := rec.take()
	if d := cmp.Diff(map[string]int{"query": 1}, count(calls, false)); d != "" {
		t.Errorf("query calls: %s (-want +got):\n%s", describe(calls), d)
	}
	want := []map[string]any{
		{"id": "p1", "tenantId": a, "contact": map[string]any{"email": "sam@example.org"}},
		{"id": "p2", "tenantId": a, "contact": map[string]any{"email": "sam@example.org"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("queried items (-want +got):\n%s", d)
	}
	if err := s.QueryItems(ctx, b, "people", "/contact/email", "sam@example.org", func([]byte) error {
		t.Error("tenant b sees an item put for tenant a")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rec.take()

	// One delete answers 404, as when another erasure got there first: no
	// error, not counted.
	rec.setFault(func(kind string, r *http.Request) *http.Response {
		if kind == kindDelete && strings.HasSuffix(r.URL.Path, "/docs/p1") {
			return notFound(r)
		}
		return nil
	})
	n, err := s.DeleteItems(ctx, a, "people", "/contact/email", "sam@example.org")
	rec.setFault(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("deleted %d, want 1 (p1 answered 404)", n)
	}
	calls = rec.take()
	if d := cmp.Diff(map[string]int{"query 200": 1, "delete 204": 1, "delete 404": 1}, count(calls, true)); d != "" {
		t.Errorf("delete calls: %s (-want +got):\n%s", describe(calls), d)
	}
}

// TestItemsMissingContainer: the store never creates a data container on a
// call; a missing one is ErrNotFound.
func TestItemsMissingContainer(t *testing.T) {
	t.Parallel()
	s, _ := newItemsStore(t)
	err := s.PutItem(t.Context(), "it-"+randomID(t), "never-created", []byte(`{"id":"1"}`))
	if !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("put into a missing container: %v, want ErrNotFound", err)
	}
	err = s.QueryItems(t.Context(), "it-"+randomID(t), "never-created", "/email", "x", func([]byte) error { return nil })
	if !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("query of a missing container: %v, want ErrNotFound", err)
	}
}

// notFound is an injected 404, as Cosmos answers a delete of a missing item.
func notFound(r *http.Request) *http.Response {
	body := `{"code":"NotFound","message":"Entity with the specified id does not exist in the system."}`
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

// TestTenantData runs the conformance suite of the offboarding purge.
func TestTenantData(t *testing.T) {
	t.Parallel()
	s, _ := newItemsStore(t)
	storetest.RunTenantData(t, s)
}
