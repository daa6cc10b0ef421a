package webhook_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

func TestParseResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		want   privacy.ConnectorResult
		taskID string
		bad    bool
	}{
		{"done", `{"taskId":"task-1","outcome":"done","items":4}`, privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: 4, Present: true}, "task-1", false},
		{"done without items", `{"taskId":"task-1","outcome":"done"}`, privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Present: true}, "task-1", false},
		{"no-data", `{"taskId":"task-1","outcome":"no-data"}`, privacy.ConnectorResult{Outcome: privacy.OutcomeNoData}, "task-1", false},
		{"held", `{"taskId":"task-1","outcome":"held","reason":"open\ninvoice"}`, privacy.ConnectorResult{Outcome: privacy.OutcomeHeld, Reason: "open invoice"}, "task-1", false},
		{"held without reason", `{"taskId":"task-1","outcome":"held"}`, privacy.ConnectorResult{Outcome: privacy.OutcomeHeld, Reason: webhook.DefaultHeldReason}, "task-1", false},
		{"reason of done dropped", `{"taskId":"task-1","outcome":"done","reason":"x"}`, privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Present: true}, "task-1", false},
		{"unknown field", `{"taskId":"task-1","outcome":"done","email":"` + email + `"}`, privacy.ConnectorResult{}, "", true},
		{"accepted is no callback outcome", `{"taskId":"task-1","outcome":"accepted"}`, privacy.ConnectorResult{}, "", true},
		{"unknown outcome", `{"taskId":"task-1","outcome":"` + bodyMarker + `"}`, privacy.ConnectorResult{}, "", true},
		{"no task id", `{"outcome":"done"}`, privacy.ConnectorResult{}, "", true},
		{"task id too long", `{"taskId":"` + strings.Repeat("t", 201) + `","outcome":"done"}`, privacy.ConnectorResult{}, "", true},
		{"negative items", `{"taskId":"task-1","outcome":"done","items":-1}`, privacy.ConnectorResult{}, "", true},
		{"items of no-data", `{"taskId":"task-1","outcome":"no-data","items":2}`, privacy.ConnectorResult{}, "", true},
		{"items of held", `{"taskId":"task-1","outcome":"held","items":2}`, privacy.ConnectorResult{}, "", true},
		{"items an array", `{"taskId":"task-1","outcome":"done","items":[1]}`, privacy.ConnectorResult{}, "", true},
		{"reason too long", `{"taskId":"task-1","outcome":"held","reason":"` + strings.Repeat("r", 2049) + `"}`, privacy.ConnectorResult{}, "", true},
		{"two values", `{"taskId":"task-1","outcome":"done"}{}`, privacy.ConnectorResult{}, "", true},
		{"garbage", bodyMarker, privacy.ConnectorResult{}, "", true},
		{"empty", ``, privacy.ConnectorResult{}, "", true},
		{"null", `null`, privacy.ConnectorResult{}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, taskID, err := webhook.ParseResult([]byte(tc.body))
			checkErrorText(t, err)
			if tc.bad {
				if code := errorCode(t, err); code != "invalid-callback" {
					t.Errorf("ParseResult error = %v (code %q), want invalid-callback", err, code)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResult: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if taskID != tc.taskID {
				t.Errorf("task id = %q, want %q", taskID, tc.taskID)
			}
		})
	}
}

func TestParseExport(t *testing.T) {
	t.Parallel()
	subject := `{"email":"` + email + `"}`
	tests := []struct {
		name string
		body string
		want privacy.ConnectorResult
		bad  bool
	}{
		{"done", `{"taskId":"task-1","outcome":"done","items":[` + subject + `,` + subject + `]}`, privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: 2}, false},
		{"items first", `{"items":[1,2,3],"outcome":"done","taskId":"task-1"}`, privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: 3}, false},
		{"done and empty", `{"taskId":"task-1","outcome":"done","items":[]}`, privacy.ConnectorResult{Outcome: privacy.OutcomeDone}, false},
		{"no-data", `{"taskId":"task-1","outcome":"no-data"}`, privacy.ConnectorResult{Outcome: privacy.OutcomeNoData}, false},
		{"held", `{"taskId":"task-1","outcome":"held","reason":"audit"}`, privacy.ConnectorResult{Outcome: privacy.OutcomeHeld, Reason: "audit"}, false},
		{"done without items", `{"taskId":"task-1","outcome":"done"}`, privacy.ConnectorResult{}, true},
		{"no-data with items", `{"taskId":"task-1","outcome":"no-data","items":[1]}`, privacy.ConnectorResult{}, true},
		{"unknown field", `{"taskId":"task-1","outcome":"done","items":[],"next":null}`, privacy.ConnectorResult{}, true},
		{"outcome twice", `{"taskId":"task-1","outcome":"done","outcome":"held","items":[]}`, privacy.ConnectorResult{}, true},
		{"outcome not a string", `{"taskId":"task-1","outcome":1,"items":[]}`, privacy.ConnectorResult{}, true},
		{"items a number", `{"taskId":"task-1","outcome":"done","items":2}`, privacy.ConnectorResult{}, true},
		{"no task id", `{"outcome":"done","items":[]}`, privacy.ConnectorResult{}, true},
		{"truncated", `{"taskId":"task-1","outcome":"done","items":[` + subject, privacy.ConnectorResult{}, true},
		{"garbage", bodyMarker, privacy.ConnectorResult{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, taskID, err := webhook.ParseExport(strings.NewReader(tc.body))
			checkErrorText(t, err)
			if tc.bad {
				if code := errorCode(t, err); code != "invalid-callback" {
					t.Errorf("ParseExport error = %v (code %q), want invalid-callback", err, code)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExport: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if taskID != "task-1" {
				t.Errorf("task id = %q, want task-1", taskID)
			}
		})
	}
	boom := errors.New("blob read failed")
	if _, _, err := webhook.ParseExport(errReader{boom}); !errors.Is(err, boom) || errorCode(t, err) != "<not a privacy.Error>" {
		t.Errorf("ParseExport over a failing reader = %v, want the read error, not invalid-callback", err)
	}
}

// TestExportCallbackFlow is the callback endpoint's path for an export, as
// documented in callback.go: verify while staging, then parse the staged copy.
func TestExportCallbackFlow(t *testing.T) {
	t.Parallel()
	svc := service("https://crm.example/hook", secretNew, secretOld)
	body := []byte(`{"taskId":"task-1","outcome":"done","items":[{"email":"` + email + `"}]}`)
	tests := []struct {
		name    string
		header  string
		body    []byte
		wantErr error
	}{
		{"signed with the old key", webhook.Sign(now, body, secretOld), body, nil},
		{"tampered", webhook.Sign(now, body, secretOld), bytes.Replace(body, []byte(`"items":[`), []byte(`"items":[1,`), 1), webhook.ErrBadSignature},
		{"unsigned", "", body, webhook.ErrMissingSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/callbacks/task-1", bytes.NewReader(tc.body))
			r.Header.Set(webhook.SignatureHeader, tc.header)
			secrets, err := webhook.Secrets(svc)
			if err != nil {
				t.Fatal(err)
			}
			var staging bytes.Buffer
			_, err = webhook.VerifyStream(r.Header.Get(webhook.SignatureHeader), http.MaxBytesReader(nil, r.Body, 1<<20), &staging, now, 0, secrets...)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("VerifyStream = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return // the endpoint deletes the staging blob
			}
			res, taskID, err := webhook.ParseExport(&staging)
			if err != nil || taskID != "task-1" || res.Outcome != privacy.OutcomeDone || res.Items != 1 {
				t.Errorf("ParseExport = %+v, %q, %v; want done with 1 item for task-1", res, taskID, err)
			}
		})
	}
}
