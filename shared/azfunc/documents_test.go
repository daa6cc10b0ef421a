package azfunc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPayloadDocuments(t *testing.T) {
	t.Parallel()
	wantIDs := []string{"dsr_1", "dsr_2"}
	tests := []struct {
		name string
		body string
	}{
		{"recorded: array text, string-encoded twice", string(payload(t, "cosmos_documents.json"))},
		{"array text, string-encoded once", `{"Data":{"documents":"[{\"id\":\"dsr_1\"},{\"id\":\"dsr_2\"}]"},"Metadata":{}}`},
		{"a plain array", `{"Data":{"documents":[{"id":"dsr_1"},{"id":"dsr_2"}]},"Metadata":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ids []string
			h := newHandler(t, fakes{outbox: func(_ context.Context, docs []json.RawMessage) error {
				for _, d := range docs {
					var v struct{ ID string }
					if err := json.Unmarshal(d, &v); err != nil {
						return err
					}
					ids = append(ids, v.ID)
				}
				return nil
			}})
			w := invoke(t, h, "outbox", []byte(tc.body), "inv-d")
			if w.Code != http.StatusOK {
				t.Fatalf("status to the host = %d, want 200", w.Code)
			}
			if diff := cmp.Diff(wantIDs, ids); diff != "" {
				t.Errorf("document ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPayloadDocumentsFailuresAreRetried(t *testing.T) {
	t.Parallel()
	recorded := string(payload(t, "cosmos_documents.json"))
	tests := []struct {
		name   string
		body   string
		fn     func(context.Context, []json.RawMessage) error
		called bool
	}{
		{"function error", recorded, func(context.Context, []json.RawMessage) error { return errors.New("store unavailable") }, true},
		{"function panic", recorded, func(context.Context, []json.RawMessage) error { panic("boom") }, true},
		{"no trigger data", `{"Data":{},"Metadata":{}}`, nil, false},
		{"an object, not a batch", `{"Data":{"documents":{"id":"x"}},"Metadata":{}}`, nil, false},
		{"a string that is not an array", `{"Data":{"documents":"\"hello\""},"Metadata":{}}`, nil, false},
		{"nested too deep", `{"Data":{"documents":"\"\\\"\\\\\\\"[]\\\\\\\"\\\"\""},"Metadata":{}}`, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			called := false
			h := newHandler(t, fakes{outbox: func(ctx context.Context, docs []json.RawMessage) error {
				called = true
				if tc.fn == nil {
					return nil
				}
				return tc.fn(ctx, docs)
			}})
			w := invoke(t, h, "outbox", []byte(tc.body), "inv-d")
			if w.Code != http.StatusInternalServerError {
				t.Errorf("status to the host = %d, want 500 so the batch is retried", w.Code)
			}
			if called != tc.called {
				t.Errorf("function called = %v, want %v", called, tc.called)
			}
		})
	}
}
