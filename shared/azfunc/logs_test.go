package azfunc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/trigger"
)

// TestInvocationLogs: in payload mode a function's records below Warn come
// back in the reply's Logs (the host files them under the invocation); its
// warnings go to stderr at once; when the invocation fails, whose reply the
// host throws away, the collected lines go to stdout instead.
func TestInvocationLogs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fail       error
		wantStatus int
		wantLogs   []string // msg of each Logs entry
		wantStdout []string // msg of each stdout line from the function
		wantStderr []string
	}{
		{name: "success", wantStatus: http.StatusOK, wantLogs: []string{"notice processed"},
			wantStderr: []string{"smtp slow"}},
		{name: "failure", fail: errors.New("smtp 421"), wantStatus: http.StatusInternalServerError,
			wantStdout: []string{"notice processed"}, wantStderr: []string{"smtp slow", "queue function failed; message will be redelivered"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			log := logging.Split(&stdout, &stderr, "info")
			f := fakes{notify: func(ctx context.Context, m trigger.Message) error {
				log.InfoContext(ctx, "notice processed", "request_id", "r-1")
				log.WarnContext(ctx, "smtp slow")
				return tc.fail
			}}
			h, err := New(f.functions(), specs(t), log)
			if err != nil {
				t.Fatal(err)
			}
			w := invoke(t, h, "notify", payload(t, "servicebus_binary.json"), "inv-logs")
			if w.Code != tc.wantStatus {
				t.Fatalf("status to the host = %d, want %d", w.Code, tc.wantStatus)
			}
			var gotLogs []string
			if tc.wantStatus == http.StatusOK {
				for _, l := range decodeReply(t, w).Logs {
					var m struct {
						Msg       string `json:"msg"`
						RequestID string `json:"request_id"`
					}
					if err := json.Unmarshal([]byte(l), &m); err != nil || m.RequestID != "r-1" {
						t.Errorf("Logs entry %q: want the JSON line with the function's attributes", l)
					}
					gotLogs = append(gotLogs, m.Msg)
				}
			}
			if diff := cmp.Diff(tc.wantLogs, gotLogs); diff != "" {
				t.Errorf("Logs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStdout, msgs(t, stdout.String())); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStderr, msgs(t, stderr.String())); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHTTPPayloadLogs: an HTTP function in payload mode gets its lines in Logs
// beside Outputs.res.
func TestHTTPPayloadLogs(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	log := logging.New(&stdout, "info")
	f := fakes{portal: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "form served")
		w.WriteHeader(http.StatusNoContent)
	})}
	h, err := New(f.functions(), specs(t), log)
	if err != nil {
		t.Fatal(err)
	}
	w := invoke(t, h, "portal", payload(t, "http_get.json"), "inv-http")
	r := decodeReply(t, w)
	var got []string
	for _, l := range r.Logs {
		got = append(got, msgs(t, l)...)
	}
	if diff := cmp.Diff([]string{"form served"}, got); diff != "" {
		t.Errorf("Logs (-want +got):\n%s", diff)
	}
	if strings.Contains(stdout.String(), "form served") {
		t.Errorf("stdout repeats the invocation's line: %s", stdout.String())
	}
}

// msgs returns the msg of each JSON line in s, skipping the adapter's debug lines.
func msgs(tb testing.TB, s string) []string {
	tb.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var m struct{ Msg string }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("not a JSON line %q: %v", l, err)
		}
		out = append(out, m.Msg)
	}
	return out
}
