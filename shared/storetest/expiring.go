package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ExpiringItems is what the retention sweep needs of a tenant data container
// beside privacy.DataItems (retention.Items declares the same).
type ExpiringItems interface {
	PutItem(ctx context.Context, tenantID, container string, item []byte) error
	ScanItemsBefore(ctx context.Context, tenantID, container, path string, before time.Time, afterID string, limit int, fn func(id string, doc []byte) error) error
	DeleteItemIDs(ctx context.Context, tenantID, container string, ids []string) (int, error)
}

// RunExpiringItems runs the conformance suite of paging a container's items by
// the time at a path, and deleting them by id.
func RunExpiringItems(t *testing.T, items ExpiringItems) {
	t.Helper()
	t.Run("scan-before-delete-ids", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		a, b := newTenantID(t), newTenantID(t)
		put := func(tenant, container, doc string) {
			t.Helper()
			requireNoError(t, items.PutItem(ctx, tenant, container, []byte(doc)), "put item")
		}
		// Times in several spellings of RFC 3339: the comparison is by instant.
		put(a, "logs", `{"id":"a1","at":"2030-01-01T00:00:00Z"}`)
		put(a, "logs", `{"id":"a2","at":"2030-01-31T23:59:59.999999999Z"}`)
		put(a, "logs", `{"id":"a3","at":"2030-02-01T01:30:00+02:00"}`) // 2030-01-31T23:30Z: before the cutoff
		put(a, "logs", `{"id":"a4","at":"2030-02-01T00:00:00Z"}`)      // at the cutoff: not before it
		put(a, "logs", `{"id":"a5","at":"2030-03-01T00:00:00Z"}`)
		put(a, "logs", `{"id":"a6","at":"not a time"}`)
		put(a, "logs", `{"id":"a7"}`)
		put(a, "logs", `{"id":"a8","meta":{"at":"2020-01-01T00:00:00Z"},"at":"2020-01-01T00:00:00Z"}`)
		put(a, "other", `{"id":"a9","at":"2020-01-01T00:00:00Z"}`)
		put(b, "logs", `{"id":"b1","at":"2020-01-01T00:00:00Z"}`)
		cutoff := time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)

		scan := func(after string, limit int) []string {
			t.Helper()
			var got []string
			requireNoError(t, items.ScanItemsBefore(ctx, a, "logs", "/at", cutoff, after, limit, func(id string, doc []byte) error {
				got = append(got, id+"="+fmt.Sprint(len(doc) > 0))
				return nil
			}), "scan")
			return got
		}
		if diff := cmp.Diff([]string{"a1=true", "a2=true", "a3=true", "a8=true"}, scan("", 10)); diff != "" {
			t.Errorf("scan (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"a1=true", "a2=true"}, scan("", 2)); diff != "" {
			t.Errorf("first page (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"a3=true", "a8=true"}, scan("a2", 2)); diff != "" {
			t.Errorf("second page (-want +got):\n%s", diff)
		}
		if got := scan("a8", 2); len(got) != 0 {
			t.Errorf("page after the last: %v", got)
		}
		stop := errors.New("stop")
		if err := items.ScanItemsBefore(ctx, a, "logs", "/at", cutoff, "", 10, func(string, []byte) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("scan did not return the callback's error: %v", err)
		}

		n, err := items.DeleteItemIDs(ctx, a, "logs", []string{"a1", "a3", "nope"})
		requireNoError(t, err, "delete ids")
		if n != 2 {
			t.Errorf("deleted %d, want 2", n)
		}
		n, err = items.DeleteItemIDs(ctx, a, "logs", []string{"a1", "a3"})
		requireNoError(t, err, "delete ids again")
		if n != 0 {
			t.Errorf("a repeated delete removed %d", n)
		}
		if n, err := items.DeleteItemIDs(ctx, a, "logs", nil); err != nil || n != 0 {
			t.Errorf("empty delete: %d, %v", n, err)
		}
		if diff := cmp.Diff([]string{"a2=true", "a8=true"}, scan("", 10)); diff != "" {
			t.Errorf("after delete (-want +got):\n%s", diff)
		}
		// Another tenant's and another container's items are untouched.
		n, err = items.DeleteItemIDs(ctx, b, "logs", []string{"a2"})
		requireNoError(t, err, "delete in another tenant")
		if n != 0 {
			t.Errorf("deleted %d items of another tenant", n)
		}
		var other []string
		requireNoError(t, items.ScanItemsBefore(ctx, b, "logs", "/at", cutoff, "", 10, func(id string, _ []byte) error {
			other = append(other, id)
			return nil
		}), "scan other tenant")
		if diff := cmp.Diff([]string{"b1"}, other); diff != "" {
			t.Errorf("other tenant (-want +got):\n%s", diff)
		}
	})
}

// StorageOnlyItems is ExpiringItems that can mark items storage-only
// (retention.Marker).
type StorageOnlyItems interface {
	ExpiringItems
	QueryItems(ctx context.Context, tenantID, container, path, value string, fn func(item []byte) error) error
	MarkItemsStorageOnly(ctx context.Context, tenantID, container string, ids []string, at time.Time) (int, error)
}

// RunStorageOnlyItems runs the conformance suite of marking items
// storage-only: the property is set to the time on the named items of the
// tenant only, the rest of each item is kept, and a repeat changes nothing.
func RunStorageOnlyItems(t *testing.T, items StorageOnlyItems) {
	t.Helper()
	t.Run("mark-storage-only", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		a, b := newTenantID(t), newTenantID(t)
		requireNoError(t, items.PutItem(ctx, a, "people", []byte(`{"id":"p1","email":"x@example.com","at":"2020-01-01T00:00:00Z"}`)), "put")
		requireNoError(t, items.PutItem(ctx, a, "people", []byte(`{"id":"p2","email":"x@example.com","at":"2020-01-01T00:00:00Z"}`)), "put")
		requireNoError(t, items.PutItem(ctx, b, "people", []byte(`{"id":"p1","email":"x@example.com"}`)), "put")
		at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
		n, err := items.MarkItemsStorageOnly(ctx, a, "people", []string{"p1", "nope"}, at)
		requireNoError(t, err, "mark")
		if n != 1 {
			t.Errorf("marked %d, want 1", n)
		}
		if n, err := items.MarkItemsStorageOnly(ctx, a, "people", []string{"p1"}, at.Add(time.Hour)); err != nil || n != 0 {
			t.Errorf("marking again: %d, %v; want 0 and the first time kept", n, err)
		}
		read := func(tenant string) map[string]string {
			t.Helper()
			got := map[string]string{}
			requireNoError(t, items.QueryItems(ctx, tenant, "people", "/email", "x@example.com", func(doc []byte) error {
				var v struct {
					ID, Email string
					Mark      string `json:"privopsStorageOnly"`
				}
				requireNoError(t, json.Unmarshal(doc, &v), "decode")
				got[v.ID] = v.Email + "|" + v.Mark
				return nil
			}), "query")
			return got
		}
		if diff := cmp.Diff(map[string]string{"p1": "x@example.com|2030-01-31T02:00:00Z", "p2": "x@example.com|"}, read(a)); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"p1": "x@example.com|"}, read(b)); diff != "" {
			t.Errorf("another tenant's items (-want +got):\n%s", diff)
		}
	})
}
