package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// RunItems runs the conformance suite of the tenant data containers the
// built-in cosmos connector uses.
func RunItems(t *testing.T, items privacy.DataItems) {
	t.Helper()
	t.Run("query-delete", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		a, b := newTenantID(t), newTenantID(t)
		put := func(tenant, container, doc string) {
			t.Helper()
			requireNoError(t, items.PutItem(ctx, tenant, container, []byte(doc)), "put item")
		}
		put(a, "people", `{"id":"1","contact":{"email":"sam@example.org"},"name":"Sam"}`)
		put(a, "people", `{"id":"2","contact":{"email":"sam@example.org"},"name":"Sam again"}`)
		put(a, "people", `{"id":"3","contact":{"email":"kim@example.org"}}`)
		put(a, "orders", `{"id":"1","contact":{"email":"sam@example.org"}}`)
		put(b, "people", `{"id":"1","contact":{"email":"sam@example.org"}}`) // another tenant, same id
		put(a, "people", `{"id":"2","contact":{"email":"sam@example.org"},"name":"Sam replaced"}`)

		query := func(tenant, container, path, value string) []string {
			t.Helper()
			var got []string
			requireNoError(t, items.QueryItems(ctx, tenant, container, path, value, func(item []byte) error {
				var v struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				}
				requireNoError(t, json.Unmarshal(item, &v), "decode item")
				got = append(got, v.ID+":"+v.Name)
				return nil
			}), "query items")
			return got
		}
		if diff := cmp.Diff([]string{"1:Sam", "2:Sam replaced"}, query(a, "people", "/contact/email", "sam@example.org")); diff != "" {
			t.Errorf("query (-want +got):\n%s", diff)
		}
		if got := query(a, "people", "/contact/email", "nobody@example.org"); len(got) != 0 {
			t.Errorf("query for an absent subject returned %v", got)
		}
		if got := query(a, "people", "/name", `" OR 1=1 --`); len(got) != 0 {
			t.Errorf("a hostile value matched %v", got)
		}
		stop := errors.New("stop")
		if err := items.QueryItems(ctx, a, "people", "/contact/email", "sam@example.org", func([]byte) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("query did not return the callback's error: %v", err)
		}

		n, err := items.DeleteItems(ctx, a, "people", "/contact/email", "sam@example.org")
		requireNoError(t, err, "delete items")
		if n != 2 {
			t.Errorf("deleted %d items, want 2", n)
		}
		if got := query(a, "people", "/contact/email", "sam@example.org"); len(got) != 0 {
			t.Errorf("after delete, query returned %v", got)
		}
		if diff := cmp.Diff([]string{"3:"}, query(a, "people", "/contact/email", "kim@example.org")); diff != "" {
			t.Errorf("other subject after delete (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"1:"}, query(a, "orders", "/contact/email", "sam@example.org")); diff != "" {
			t.Errorf("other container after delete (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"1:"}, query(b, "people", "/contact/email", "sam@example.org")); diff != "" {
			t.Errorf("other tenant after delete (-want +got):\n%s", diff)
		}
		n, err = items.DeleteItems(ctx, a, "people", "/contact/email", "sam@example.org")
		requireNoError(t, err, "delete again")
		if n != 0 {
			t.Errorf("second delete removed %d items", n)
		}
		if err := items.PutItem(ctx, a, "people", []byte(`{"name":"no id"}`)); err == nil {
			t.Error("put of an item without an id succeeded")
		}
	})
}
