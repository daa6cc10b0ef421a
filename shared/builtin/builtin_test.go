package builtin

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// items is a DataItems of fixed items, matched by their "email".
type items [][]byte

func (it items) QueryItems(_ context.Context, _, _, _, value string, fn func([]byte) error) error {
	for _, b := range it {
		var v struct{ Email string }
		if json.Unmarshal(b, &v) == nil && v.Email == value {
			if err := fn(b); err != nil {
				return err
			}
		}
	}
	return nil
}
func (items) DeleteItems(context.Context, string, string, string, string) (int, error) { return 0, nil }
func (items) PutItem(context.Context, string, string, []byte) error                    { return nil }

// TestExportSkipsStorageOnlyItems: items a retention policy marked
// storage-only (PIPL Art. 47) are stored, not processed: an export leaves
// them out and says how many it left out.
func TestExportSkipsStorageOnlyItems(t *testing.T) {
	t.Parallel()
	c := Container{Items: items{
		[]byte(`{"id":"a","email":"ada@example.com"}`),
		[]byte(`{"id":"b","email":"ada@example.com","privopsStorageOnly":"2030-01-31T02:00:00Z"}`),
		[]byte(`{"id":"c","email":"ada@example.com","privopsStorageOnly":null}`),
	}}
	svc := &privacy.Service{ID: "app", Kind: privacy.KindCosmos, Container: "people", Identifiers: []string{"email"},
		IdentityPaths: map[string]string{"email": "/email"}}
	var saved []byte
	res, err := c.Run(t.Context(), svc, privacy.ConnectorCall{TenantID: "acme", Action: privacy.ActionExport,
		Identifiers: map[string]string{"email": "ada@example.com"},
		Save: func(_ context.Context, r io.Reader) (int64, error) {
			b, err := io.ReadAll(r)
			saved = b
			return int64(len(b)), err
		}})
	if err != nil {
		t.Fatal(err)
	}
	want := privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: 2,
		Reason: "1 items kept storage-only by a retention policy (PIPL Art. 47) were not exported"}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if got := string(saved); got != `{"items":[{"id":"a","email":"ada@example.com"},{"id":"c","email":"ada@example.com","privopsStorageOnly":null}]}` {
		t.Errorf("exported %s", got)
	}
}
