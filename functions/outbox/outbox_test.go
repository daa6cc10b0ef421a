package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeService records flushes and fails the ones named in fail.
type fakeService struct {
	mu      sync.Mutex
	flushed []string
	fail    map[string]error
}

func (f *fakeService) FlushRequest(_ context.Context, tenantID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed = append(f.flushed, tenantID+"/"+id)
	return f.fail[id]
}

func docs(raw ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(raw))
	for i, r := range raw {
		out[i] = json.RawMessage(r)
	}
	return out
}

func TestOutboxFlushesRequestsWithAnOutbox(t *testing.T) {
	t.Parallel()
	batch := docs(
		`{"id":"dsr_1","tenantId":"acme","docType":"request","outbox":[{"id":"aud-1"}],"subject":{"email":"ada@example.com"}}`,
		`{"id":"dsr_2","tenantId":"acme","docType":"request","outbox":[]}`, // already flushed
		`{"id":"dsr_3","tenantId":"acme","docType":"request"}`,             // no outbox at all
		`{"id":"dsr_4","tenantId":"umbrella","docType":"request","outbox":[{"id":"m"}]}`,
		`{"id":"acme","tenantId":"acme","docType":"tenant","outbox":[{"id":"x"}]}`, // not a request
		`{"id":"dsr_5","docType":"request","outbox":[{"id":"x"}]}`,                 // no tenant: not ours
		`"not an object"`,
	)
	var logs bytes.Buffer
	svc := &fakeService{}
	fn := New(Deps{Service: svc, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err := fn(t.Context(), batch); err != nil {
		t.Fatalf("batch: %v", err)
	}
	if diff := cmp.Diff([]string{"acme/dsr_1", "umbrella/dsr_4"}, svc.flushed); diff != "" {
		t.Errorf("flushed (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.String(), "ada@example.com") {
		t.Errorf("the log holds a subject's email:\n%s", logs.String())
	}
}

func TestOutboxReturnsAFailedBatchForRetry(t *testing.T) {
	t.Parallel()
	svc := &fakeService{fail: map[string]error{"dsr_1": errors.New("store unavailable")}}
	fn := New(Deps{Service: svc, Logger: slog.New(slog.DiscardHandler)})
	err := fn(t.Context(), docs(
		`{"id":"dsr_1","tenantId":"acme","docType":"request","outbox":[{"id":"a"}]}`,
		`{"id":"dsr_2","tenantId":"acme","docType":"request","outbox":[{"id":"b"}]}`,
	))
	if err == nil || !strings.Contains(err.Error(), "acme/dsr_1") {
		t.Fatalf("batch error = %v, want one naming acme/dsr_1", err)
	}
	// The rest of the batch is still carried out; the retry repeats it harmlessly.
	if diff := cmp.Diff([]string{"acme/dsr_1", "acme/dsr_2"}, svc.flushed); diff != "" {
		t.Errorf("flushed (-want +got):\n%s", diff)
	}
}
