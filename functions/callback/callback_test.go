package callback_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/callback"
	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
	"github.com/privops/privops/shared/webhook"
)

// now is the fixed clock of every test: month end, where deadline bugs live.
var now = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

// email is the subject's address: it is in the request and in export bodies,
// and must never come back in a response.
const email = "ada.lovelace@example.com"

const (
	tenantID   = "acme"
	requestID  = "req-1"
	serviceID  = "crm"
	exportBlob = tenantID + "/requests/" + requestID + "/services/" + serviceID + ".callback.json"
)

// taskID is the id of the crm service's task for action, shaped as dsr makes them.
func taskID(a privacy.Action) string { return requestID + "." + serviceID + "." + string(a) }

// keys are the service's two active signing secrets and one it never had.
type keys struct {
	newest, older, stranger []byte
}

func newKeys(tb testing.TB) keys {
	tb.Helper()
	return keys{newest: randomKey(tb), older: randomKey(tb), stranger: randomKey(tb)}
}

func randomKey(tb testing.TB) []byte {
	tb.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return k
}

// target is the task a callback names: the crm webhook service's task for
// action, of kind and status, holding the two secrets (older listed first, so
// that the endpoint has to order them itself).
func target(ks keys, action privacy.Action, kind privacy.ConnectorKind, status privacy.TaskStatus) *dsr.TaskTarget {
	svc := &privacy.Service{
		ID: serviceID, Name: "CRM", Kind: privacy.KindWebhook, URL: "https://crm.example/privops",
		Actions: []privacy.Action{privacy.ActionExport, privacy.ActionErase}, Categories: []privacy.Category{"contact"}, Identifiers: []string{"email"},
		Secrets: []privacy.ServiceSecret{
			{ID: "key-older", Value: base64.StdEncoding.EncodeToString(ks.older), CreatedAt: now.AddDate(0, -2, 0)},
			{ID: "key-newest", Value: base64.StdEncoding.EncodeToString(ks.newest), CreatedAt: now.AddDate(0, 0, -3)},
		},
	}
	task := privacy.Task{
		ID: taskID(action), Service: serviceID, ServiceName: "CRM", Kind: kind, Action: action, Status: status,
		Attempts: 1, StartedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour),
	}
	req := &privacy.Request{
		ID: requestID, TenantID: tenantID, Status: privacy.StatusInProgress,
		Subject: privacy.Subject{Email: email, Country: "DE"}, Tasks: []privacy.Task{task},
	}
	return &dsr.TaskTarget{Tenant: &privacy.Tenant{ID: tenantID, Name: "Acme"}, Request: req, Task: &req.Tasks[0], Service: svc}
}

// completion is one CompleteTask call.
type completion struct {
	TaskID string
	Result dsr.Result
	Actor  dsr.Actor
}

// fakeService holds one task. Target finds it by its three ids (anything else
// is not found, as dsr answers); CompleteTask records its arguments and
// answers the task with the status of the outcome, as many times as it is called.
type fakeService struct {
	target    *dsr.TaskTarget
	targetErr error // returned by Target instead, when set
	settle    bool  // CompleteTask ends the target's task, as dsr does

	mu    sync.Mutex
	calls []completion
}

var _ callback.Service = (*fakeService)(nil)

func (f *fakeService) Target(_ context.Context, tenant, request, task string) (*dsr.TaskTarget, error) {
	if f.targetErr != nil {
		return nil, f.targetErr
	}
	if tenant != f.target.Request.TenantID || request != f.target.Request.ID || task != f.target.Task.ID {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-task", "no such task")
	}
	return f.target, nil
}

func (f *fakeService) CompleteTask(_ context.Context, tg *dsr.TaskTarget, res dsr.Result, actor dsr.Actor) (*privacy.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, completion{TaskID: tg.Task.ID, Result: res, Actor: actor})
	task := *tg.Task
	if !task.Status.Terminal() {
		task.Status = privacy.TaskStatus(res.Outcome)
	}
	if f.settle {
		*tg.Task = task
	}
	return &task, nil
}

func (f *fakeService) completions() []completion {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// blobFiles returns every file under the local blob folder, by slash path,
// with its content: blobs and any temporary file a Put left behind.
func blobFiles(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// answer is what a test compares of a response.
type answer struct {
	Status     int
	Code       string             // a problem's "code"
	TaskID     string             // a 200's "taskId"
	TaskStatus privacy.TaskStatus // a 200's "status"
}

func decodeAnswer(tb testing.TB, rec *httptest.ResponseRecorder) answer {
	tb.Helper()
	var v struct {
		Code   string          `json:"code"`
		TaskID string          `json:"taskId"`
		Status json.RawMessage `json:"status"` // a number in a problem, a task status in a 200
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		tb.Fatalf("response %d is not JSON: %v", rec.Code, err)
	}
	a := answer{Status: rec.Code, Code: v.Code, TaskID: v.TaskID}
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(v.Status, &a.TaskStatus); err != nil {
			tb.Fatalf("status of a 200 answer: %v", err)
		}
	}
	return a
}

// Signers of a callback body.
type signer func(k keys, body []byte) string

func signedWith(pick func(keys) []byte, age time.Duration) signer {
	return func(k keys, body []byte) string { return webhook.Sign(now.Add(-age), body, pick(k)) }
}

var (
	newest   = func(k keys) []byte { return k.newest }
	older    = func(k keys) []byte { return k.older }
	stranger = func(k keys) []byte { return k.stranger }
	unsigned = func(keys, []byte) string { return "" }
	garbled  = func(keys, []byte) string { return "t=yesterday,v1=not-hex" }
)

const (
	maxBody        = 1 << 10
	maxExportBytes = 4 << 10
)

func TestCallback(t *testing.T) {
	t.Parallel()
	erase := privacy.ActionErase
	export := privacy.ActionExport
	eraseDone := `{"taskId":"` + taskID(erase) + `","outcome":"done","items":3}`
	exportDone := `{"taskId":"` + taskID(export) + `","outcome":"done","items":[{"email":"` + email + `","name":"Ada"},{"email":"` + email + `","orders":[1,2]}]}`
	exportNoData := `{"taskId":"` + taskID(export) + `","outcome":"no-data"}`
	earlierExport := `{"taskId":"` + taskID(export) + `","outcome":"done","items":[{"email":"` + email + `"}]}`
	erased := func(res dsr.Result) []completion { return []completion{{TaskID: taskID(erase), Result: res}} }
	exported := func(res dsr.Result) []completion { return []completion{{TaskID: taskID(export), Result: res}} }
	doneExport := dsr.Result{Outcome: privacy.OutcomeDone, Items: 2, Blob: exportBlob, Bytes: int64(len(exportDone))}

	tests := []struct {
		name      string
		action    privacy.Action        // of the task; erase when empty
		kind      privacy.ConnectorKind // of the task; webhook when empty
		status    privacy.TaskStatus    // of the task; waiting when empty
		targetErr error                 // Target fails with it
		urlTask   string                // the URL's task; the target's when empty
		seed      map[string]string     // blobs stored before the callback
		body      string                // what is signed
		sent      string                // what is sent instead, when not empty
		sign      signer
		sends     int // how often the same callback is posted; once when 0

		want      answer
		wantCalls []completion
		wantBlobs map[string]string
	}{
		{
			name: "signed with the newest secret", body: eraseDone, sign: signedWith(newest, 0),
			want:      answer{Status: 200, TaskID: taskID(erase), TaskStatus: privacy.TaskDone},
			wantCalls: erased(dsr.Result{Outcome: privacy.OutcomeDone, Items: 3}),
		},
		{
			name: "signed with the older secret", body: eraseDone, sign: signedWith(older, 0),
			want:      answer{Status: 200, TaskID: taskID(erase), TaskStatus: privacy.TaskDone},
			wantCalls: erased(dsr.Result{Outcome: privacy.OutcomeDone, Items: 3}),
		},
		{
			name: "signed 4 minutes ago, inside the replay window", body: eraseDone, sign: signedWith(newest, 4*time.Minute),
			want:      answer{Status: 200, TaskID: taskID(erase), TaskStatus: privacy.TaskDone},
			wantCalls: erased(dsr.Result{Outcome: privacy.OutcomeDone, Items: 3}),
		},
		{
			name: "held with its reason", body: `{"taskId":"` + taskID(erase) + `","outcome":"held","reason":"open invoice"}`, sign: signedWith(newest, 0),
			want:      answer{Status: 200, TaskID: taskID(erase), TaskStatus: privacy.TaskHeld},
			wantCalls: erased(dsr.Result{Outcome: privacy.OutcomeHeld, Reason: "open invoice"}),
		},
		{
			name: "replayed inside the window", body: eraseDone, sign: signedWith(newest, 4*time.Minute), sends: 2,
			want: answer{Status: 200, TaskID: taskID(erase), TaskStatus: privacy.TaskDone},
			wantCalls: []completion{
				{TaskID: taskID(erase), Result: dsr.Result{Outcome: privacy.OutcomeDone, Items: 3}},
				{TaskID: taskID(erase), Result: dsr.Result{Outcome: privacy.OutcomeDone, Items: 3}},
			},
		},
		{
			name: "missing signature", body: eraseDone, sign: unsigned,
			want: answer{Status: 401, Code: "missing-signature"},
		},
		{
			name: "garbled signature", body: eraseDone, sign: garbled,
			want: answer{Status: 401, Code: "malformed-signature"},
		},
		{
			name: "signed with a secret the service does not have", body: eraseDone, sign: signedWith(stranger, 0),
			want: answer{Status: 401, Code: "bad-signature"},
		},
		{
			name: "signed 10 minutes ago, outside the replay window", body: eraseDone, sign: signedWith(newest, 10*time.Minute),
			want: answer{Status: 401, Code: "stale-signature"},
		},
		{
			name: "signed 10 minutes ahead", body: eraseDone, sign: signedWith(newest, -10*time.Minute),
			want: answer{Status: 401, Code: "stale-signature"},
		},
		{
			name: "body tampered after signing", body: eraseDone, sent: strings.Replace(eraseDone, `"items":3`, `"items":0`, 1), sign: signedWith(newest, 0),
			want: answer{Status: 401, Code: "bad-signature"},
		},
		{
			name: "signed body about another task", body: `{"taskId":"` + taskID(privacy.ActionLookup) + `","outcome":"done","items":3}`, sign: signedWith(newest, 0),
			want: answer{Status: 400, Code: "task-mismatch"},
		},
		{
			name: "signed body that is no callback result", body: `{"taskId":"` + taskID(erase) + `","outcome":"done","email":"` + email + `"}`, sign: signedWith(newest, 0),
			want: answer{Status: 400, Code: "invalid-callback"},
		},
		// The strict pass of the HTTP edge, after the signature: a signed
		// body with two outcomes was taken as its last one.
		{
			name: "signed body with a duplicate outcome", body: `{"taskId":"` + taskID(erase) + `","outcome":"held","outcome":"done","items":3}`, sign: signedWith(newest, 0),
			want: answer{Status: 400, Code: "duplicate-key"},
		},
		{
			name: "signed reason with a lone surrogate", body: `{"taskId":"` + taskID(erase) + `","outcome":"held","reason":"kept \ud800"}`, sign: signedWith(newest, 0),
			want: answer{Status: 400, Code: "invalid-text"},
		},
		{
			name: "unsigned body with a duplicate key is refused as unsigned", body: `{"taskId":"x","taskId":"y"}`, sign: unsigned,
			want: answer{Status: 401, Code: "missing-signature"},
		},
		{
			name: "unknown request", targetErr: privacy.Errorf(privacy.KindNotFound, "unknown-request", "no such request"), body: eraseDone, sign: signedWith(newest, 0),
			want: answer{Status: 404, Code: "unknown-task"},
		},
		{
			name: "unknown task in the URL", urlTask: requestID + ".billing.erase", body: eraseDone, sign: signedWith(newest, 0),
			want: answer{Status: 404, Code: "unknown-task"},
		},
		{
			// A transient store failure is not "no such task": a service
			// told 404 gives up, and the task waits until its deadline.
			name: "store unavailable", targetErr: fmt.Errorf("get request: %w", privacy.ErrUnavailable), body: eraseDone, sign: signedWith(newest, 0),
			want: answer{Status: 503, Code: "unavailable"},
		},
		{
			name: "manual task", kind: privacy.KindManual, body: eraseDone, sign: signedWith(newest, 0),
			want: answer{Status: 404, Code: "unknown-task"},
		},
		{
			name: "body over MaxBody", body: `{"taskId":"` + taskID(erase) + `","outcome":"held","reason":"` + strings.Repeat("r", maxBody) + `"}`, sign: signedWith(newest, 0),
			want: answer{Status: 413, Code: "body-too-large"},
		},
		{
			name: "export signed with the newest secret", action: export, body: exportDone, sign: signedWith(newest, 0),
			want:      answer{Status: 200, TaskID: taskID(export), TaskStatus: privacy.TaskDone},
			wantCalls: exported(doneExport),
			wantBlobs: map[string]string{exportBlob: exportDone},
		},
		{
			// The service posted before the worker recorded its 202: the
			// export is the task's result and is kept (issue 15, item 1).
			name: "export posted while the task is still claimed", action: export, status: privacy.TaskRunning, body: exportDone, sign: signedWith(newest, 0),
			want:      answer{Status: 200, TaskID: taskID(export), TaskStatus: privacy.TaskDone},
			wantCalls: exported(doneExport),
			wantBlobs: map[string]string{exportBlob: exportDone},
		},
		{
			name: "export signed with the older secret", action: export, body: exportDone, sign: signedWith(older, 0),
			want:      answer{Status: 200, TaskID: taskID(export), TaskStatus: privacy.TaskDone},
			wantCalls: exported(doneExport),
			wantBlobs: map[string]string{exportBlob: exportDone},
		},
		{
			name: "export replayed inside the window", action: export, body: exportDone, sign: signedWith(newest, 4*time.Minute), sends: 2,
			want:      answer{Status: 200, TaskID: taskID(export), TaskStatus: privacy.TaskDone},
			wantCalls: append(exported(doneExport), exported(doneExport)...),
			wantBlobs: map[string]string{exportBlob: exportDone},
		},
		{
			name: "export with a bad signature", action: export, body: exportDone, sign: signedWith(stranger, 0),
			want: answer{Status: 401, Code: "bad-signature"},
		},
		{
			name: "export tampered after signing", action: export, body: exportDone, sent: strings.Replace(exportDone, `"Ada"`, `"Eve"`, 1), sign: signedWith(newest, 0),
			want: answer{Status: 401, Code: "bad-signature"},
		},
		{
			name: "export with a stale signature", action: export, body: exportDone, sign: signedWith(newest, 10*time.Minute),
			want: answer{Status: 401, Code: "stale-signature"},
		},
		{
			name: "unsigned export", action: export, body: exportDone, sign: unsigned,
			want: answer{Status: 401, Code: "missing-signature"},
		},
		{
			name: "export with a bad signature keeps the earlier blob", action: export, seed: map[string]string{exportBlob: earlierExport},
			body: exportDone, sign: signedWith(stranger, 0),
			want:      answer{Status: 401, Code: "bad-signature"},
			wantBlobs: map[string]string{exportBlob: earlierExport},
		},
		{
			name: "export of no data", action: export, body: exportNoData, sign: signedWith(newest, 0),
			want:      answer{Status: 200, TaskID: taskID(export), TaskStatus: privacy.TaskNoData},
			wantCalls: exported(dsr.Result{Outcome: privacy.OutcomeNoData}),
		},
		{
			name: "export over MaxExportBytes", action: export,
			body: `{"taskId":"` + taskID(export) + `","outcome":"done","items":["` + strings.Repeat("x", maxExportBytes) + `"]}`, sign: signedWith(newest, 0),
			want: answer{Status: 413, Code: "body-too-large"},
		},
		{
			name: "signed export about another task", action: export,
			body: strings.Replace(exportDone, taskID(export), taskID(privacy.ActionLookup), 1), sign: signedWith(newest, 0),
			want: answer{Status: 400, Code: "task-mismatch"},
		},
		{
			name: "signed export that is no export result", action: export, body: `{"taskId":"` + taskID(export) + `","outcome":"done"}`, sign: signedWith(newest, 0),
			want: answer{Status: 400, Code: "invalid-callback"},
		},
		{
			// The task already has its answer: a later callback, even a
			// validly signed one, changes nothing, and so must not delete
			// or replace the export the task points to.
			name: "no-data export after the task ended keeps its blob", action: export, status: privacy.TaskDone,
			seed: map[string]string{exportBlob: earlierExport}, body: exportNoData, sign: signedWith(newest, 0),
			want:      answer{Status: 200, TaskID: taskID(export), TaskStatus: privacy.TaskDone},
			wantCalls: exported(dsr.Result{Outcome: privacy.OutcomeNoData}),
			wantBlobs: map[string]string{exportBlob: earlierExport},
		},
		{
			name: "other export after the task ended keeps its blob", action: export, status: privacy.TaskDone,
			seed: map[string]string{exportBlob: earlierExport}, body: exportDone, sign: signedWith(newest, 0),
			want:      answer{Status: 200, TaskID: taskID(export), TaskStatus: privacy.TaskDone},
			wantCalls: exported(dsr.Result{Outcome: privacy.OutcomeDone, Items: 2}),
			wantBlobs: map[string]string{exportBlob: earlierExport},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ks := newKeys(t)
			action, kind, status := tc.action, tc.kind, tc.status
			if action == "" {
				action = privacy.ActionErase
			}
			if kind == "" {
				kind = privacy.KindWebhook
			}
			if status == "" {
				status = privacy.TaskWaiting
			}
			svc := &fakeService{target: target(ks, action, kind, status), targetErr: tc.targetErr}
			dir := t.TempDir()
			blobs, err := blob.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			for name, content := range tc.seed {
				if _, err := blobs.Put(t.Context(), name, strings.NewReader(content)); err != nil {
					t.Fatal(err)
				}
			}
			h := callback.New(callback.Config{MaxBody: maxBody, MaxExportBytes: maxExportBytes},
				callback.Deps{Service: svc, Blobs: blobs, Now: func() time.Time { return now }}).Handler()

			urlTask := tc.urlTask
			if urlTask == "" {
				urlTask = taskID(action)
			}
			header := tc.sign(ks, []byte(tc.body))
			sent := tc.body
			if tc.sent != "" {
				sent = tc.sent
			}
			for i := range max(tc.sends, 1) {
				r := httptest.NewRequest(http.MethodPost, "/api/callbacks/"+tenantID+"/"+requestID+"/"+urlTask, strings.NewReader(sent))
				r.Header.Set("Content-Type", "application/json")
				if header != "" {
					r.Header.Set(webhook.SignatureHeader, header)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if diff := cmp.Diff(tc.want, decodeAnswer(t, rec)); diff != "" {
					t.Errorf("answer %d (-want +got):\n%s", i+1, diff)
				}
				if bytes.Contains(rec.Body.Bytes(), []byte(email)) {
					t.Errorf("answer %d contains the subject's email: %s", i+1, rec.Body)
				}
			}
			if diff := cmp.Diff(tc.wantCalls, svc.completions()); diff != "" {
				t.Errorf("CompleteTask calls (-want +got):\n%s", diff)
			}
			wantBlobs := tc.wantBlobs
			if wantBlobs == nil {
				wantBlobs = map[string]string{}
			}
			if diff := cmp.Diff(wantBlobs, blobFiles(t, dir)); diff != "" {
				t.Errorf("blob store (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCallbackMethod checks that the route takes POST only.
func TestCallbackMethod(t *testing.T) {
	t.Parallel()
	svc := &fakeService{target: target(newKeys(t), privacy.ActionErase, privacy.KindWebhook, privacy.TaskWaiting)}
	blobs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := callback.New(callback.Config{}, callback.Deps{Service: svc, Blobs: blobs, Now: func() time.Time { return now }}).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/callbacks/"+tenantID+"/"+requestID+"/"+taskID(privacy.ActionErase), nil))
	if diff := cmp.Diff(answer{Status: 405, Code: "method-not-allowed"}, decodeAnswer(t, rec)); diff != "" {
		t.Errorf("GET (-want +got):\n%s", diff)
	}
	if got := rec.Header().Get("Allow"); got != "POST" {
		t.Errorf("Allow = %q, want POST", got)
	}
	if n := len(svc.completions()); n != 0 {
		t.Errorf("CompleteTask called %d times, want 0", n)
	}
}

// blockingBody is a request body whose first Read waits for release.
type blockingBody struct {
	started chan struct{} // closed when the first Read begins
	release chan struct{}
	once    sync.Once
	r       *strings.Reader
}

func (b *blockingBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		close(b.started)
		<-b.release
	})
	return b.r.Read(p)
}

// TestExportStoreFailureWaitsForTheBody checks that an export whose blob
// store fails before reading a byte does not return while the body is still
// being read: net/http forbids reading a request body after ServeHTTP.
func TestExportStoreFailureWaitsForTheBody(t *testing.T) {
	t.Parallel()
	ks := newKeys(t)
	svc := &fakeService{target: target(ks, privacy.ActionExport, privacy.KindWebhook, privacy.TaskWaiting)}
	dir := t.TempDir()
	blobs, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A blob where the request's folder would be: the Put fails at once.
	if _, err := blobs.Put(t.Context(), tenantID+"/requests/"+requestID, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	h := callback.New(callback.Config{}, callback.Deps{Service: svc, Blobs: blobs, Now: func() time.Time { return now }}).Handler()
	body := `{"taskId":"` + taskID(privacy.ActionExport) + `","outcome":"done","items":[]}`
	rb := &blockingBody{started: make(chan struct{}), release: make(chan struct{}), r: strings.NewReader(body)}
	r := httptest.NewRequest(http.MethodPost, "/api/callbacks/"+tenantID+"/"+requestID+"/"+taskID(privacy.ActionExport), rb)
	r.Header.Set(webhook.SignatureHeader, webhook.Sign(now, []byte(body), ks.newest))
	r = r.WithContext(web.WithLogger(r.Context(), slog.New(slog.DiscardHandler))) // the expected internal error
	rec := httptest.NewRecorder()
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		h.ServeHTTP(rec, r)
	}()
	<-rb.started
	select {
	case <-returned:
		t.Error("the handler returned while its body was being read")
	case <-time.After(100 * time.Millisecond):
	}
	close(rb.release)
	<-returned
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500 for a failing blob store", rec.Code)
	}
	if n := len(svc.completions()); n != 0 {
		t.Errorf("CompleteTask called %d times, want 0", n)
	}
	if diff := cmp.Diff(map[string]string{tenantID + "/requests/" + requestID: "x"}, blobFiles(t, dir)); diff != "" {
		t.Errorf("blob store (-want +got):\n%s", diff)
	}
}
