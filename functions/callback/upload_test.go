package callback_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/callback"
	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// step is one request of an upload: a part (n > 0) or a commit (n == 0).
type step struct {
	n       int    // the part's number; 0 for the commit
	path    string // sent to this part path instead of /parts/{n}, when set
	content string // a part's bytes
	task    string // the part signature's task, the URL's task when empty
	signN   int    // the part signature's number, n when 0
	commit  string // a commit's body (built by commitOf)
	want    answer
}

func commitOf(task string, parts int, whole string) string {
	sum := sha256.Sum256([]byte(whole))
	return fmt.Sprintf(`{"taskId":%q,"parts":%d,"bytes":%d,"sha256":%q}`, task, parts, len(whole), hex.EncodeToString(sum[:]))
}

// partAnswer is a stored part's answer: its number, size and SHA-256.
func partAnswer(n int, content string) string {
	sum := sha256.Sum256([]byte(content))
	return fmt.Sprintf(`{"part":%d,"bytes":%d,"sha256":%q}`, n, len(content), hex.EncodeToString(sum[:])) + "\n"
}

func TestExportUploadInParts(t *testing.T) {
	t.Parallel()
	task := taskID(privacy.ActionExport)
	whole := `{"taskId":"` + task + `","outcome":"done","items":[{"email":"` + email + `","name":"Ada"},{"orders":[1,2]}]}`
	p1, p2, p3 := whole[:30], whole[30:60], whole[60:]
	partOK := answer{Status: 200}
	done := answer{Status: 200, TaskID: task, TaskStatus: privacy.TaskDone}
	sum := sha256.Sum256([]byte(whole))
	uploadBlob := tenantID + "/requests/" + requestID + "/services/" + serviceID + ".upload-" + hex.EncodeToString(sum[:8]) + ".json"
	completed := []completion{{TaskID: task, Result: dsr.Result{Outcome: privacy.OutcomeDone, Items: 2, Blob: uploadBlob, Bytes: int64(len(whole))}}}
	partsDir := tenantID + "/requests/" + requestID + "/services/" + serviceID + ".parts/" + task + "/"

	tests := []struct {
		name      string
		action    privacy.Action     // export when empty
		status    privacy.TaskStatus // waiting when empty
		stale     bool               // the task still reads as waiting after it completed: a concurrent commit's view
		steps     []step
		wantCalls []completion
		wantBlobs map[string]string
	}{
		{
			name: "three parts, sent out of order, then the commit",
			steps: []step{{n: 2, content: p2, want: partOK}, {n: 1, content: p1, want: partOK}, {n: 3, content: p3, want: partOK},
				{commit: commitOf(task, 3, whole), want: done}},
			wantCalls: completed, wantBlobs: map[string]string{uploadBlob: whole},
		},
		{
			name: "a retried part and a retried commit change nothing",
			steps: []step{{n: 1, content: p1, want: partOK}, {n: 1, content: p1, want: partOK}, {n: 2, content: p2 + p3, want: partOK},
				{commit: commitOf(task, 2, whole), want: done}, {commit: commitOf(task, 2, whole), want: done}},
			wantCalls: completed, wantBlobs: map[string]string{uploadBlob: whole},
		},
		{
			name: "a part sent again with other bytes replaces the first copy",
			steps: []step{{n: 1, content: "garbage", want: partOK}, {n: 1, content: p1, want: partOK}, {n: 2, content: p2 + p3, want: partOK},
				{commit: commitOf(task, 2, whole), want: done}},
			wantCalls: completed, wantBlobs: map[string]string{uploadBlob: whole},
		},
		{
			name: "a missing part does not complete the task",
			steps: []step{{n: 1, content: p1, want: partOK}, {n: 3, content: p3, want: partOK},
				{commit: commitOf(task, 3, whole), want: answer{Status: 409, Code: "missing-part"}}},
			wantBlobs: map[string]string{partsDir + "00001": p1, partsDir + "00003": p3},
		},
		{
			name: "parts whose join does not match the commit leave the task waiting",
			steps: []step{{n: 1, content: p2, want: partOK}, {n: 2, content: p1 + p3, want: partOK},
				{commit: commitOf(task, 2, whole), want: answer{Status: 400, Code: "upload-mismatch"}}},
			wantBlobs: map[string]string{partsDir + "00001": p2, partsDir + "00002": p1 + p3},
		},
		{
			name: "a join longer than the commit declares is a mismatch",
			steps: []step{{n: 1, content: p1 + p2, want: partOK}, {n: 2, content: p3 + " ", want: partOK},
				{commit: commitOf(task, 2, whole), want: answer{Status: 400, Code: "upload-mismatch"}}},
			wantBlobs: map[string]string{partsDir + "00001": p1 + p2, partsDir + "00002": p3 + " "},
		},
		{
			// A second commit that loaded the task before the first one completed
			// it finds the parts gone; it must not touch the recorded export.
			name: "a concurrent commit that lost the race keeps the winner's export", stale: true,
			steps: []step{{n: 1, content: p1, want: partOK}, {n: 2, content: p2 + p3, want: partOK},
				{commit: commitOf(task, 2, whole), want: done}, {commit: commitOf(task, 2, whole), want: answer{Status: 409, Code: "missing-part"}}},
			wantCalls: completed, wantBlobs: map[string]string{uploadBlob: whole},
		},
		{
			name:  "a part signed for another position is refused and not stored",
			steps: []step{{n: 1, content: p1, signN: 2, want: answer{Status: 401, Code: "bad-signature"}}},
		},
		{
			name:  "a part signed for another task is refused",
			steps: []step{{n: 1, content: p1, task: "req-1.billing.export", want: answer{Status: 401, Code: "bad-signature"}}},
		},
		{
			name:  "a part larger than the part cap is refused",
			steps: []step{{n: 1, content: strings.Repeat("x", webhook.MaxPartBytes+1), want: answer{Status: 413, Code: "body-too-large"}}},
		},
		{
			name: "part numbers outside 1..MaxParts are refused",
			steps: []step{{path: "/parts/0", content: p1, want: answer{Status: 400, Code: "invalid-part"}},
				{path: "/parts/01", content: p1, want: answer{Status: 400, Code: "invalid-part"}},
				{path: fmt.Sprintf("/parts/%d", webhook.MaxParts+1), content: p1, want: answer{Status: 400, Code: "invalid-part"}}},
		},
		{
			// A service may upload at once after its 202, before the worker
			// recorded it: the task is still claimed, and the upload is its result.
			name:   "parts and commit while the task is still claimed",
			status: privacy.TaskRunning,
			steps: []step{{n: 1, content: p1, want: partOK}, {n: 2, content: p2 + p3, want: partOK},
				{commit: commitOf(task, 2, whole), want: done}},
			wantCalls: completed, wantBlobs: map[string]string{uploadBlob: whole},
		},
		{
			name:   "a part for a task that ended is refused, the commit answers its status",
			status: privacy.TaskDone,
			steps: []step{{n: 1, content: whole, want: answer{Status: 409, Code: "task-not-waiting"}},
				{commit: commitOf(task, 1, whole), want: done}},
		},
		{
			name:   "an erase task takes no upload",
			action: privacy.ActionErase,
			steps:  []step{{n: 1, content: p1, want: answer{Status: 409, Code: "not-an-export"}}},
		},
		{
			name: "a commit for another task is refused",
			steps: []step{{n: 1, content: whole, want: partOK},
				{commit: commitOf("req-1.billing.export", 1, whole), want: answer{Status: 400, Code: "task-mismatch"}}},
			wantBlobs: map[string]string{partsDir + "00001": whole},
		},
		{
			name: "a committed upload that is not an export document leaves the task waiting",
			steps: []step{{n: 1, content: `{"items":3}`, want: partOK},
				{commit: commitOf(task, 1, `{"items":3}`), want: answer{Status: 400, Code: "invalid-callback"}}},
			wantBlobs: map[string]string{partsDir + "00001": `{"items":3}`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ks := newKeys(t)
			action, status := tc.action, tc.status
			if action == "" {
				action = privacy.ActionExport
			}
			if status == "" {
				status = privacy.TaskWaiting
			}
			svc := &fakeService{target: target(ks, action, privacy.KindWebhook, status), settle: !tc.stale}
			dir := t.TempDir()
			blobs, err := blob.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			h := callback.New(callback.Config{}, callback.Deps{Service: svc, Blobs: blobs, Now: func() time.Time { return now }}).Handler()
			base := "/api/callbacks/" + tenantID + "/" + requestID + "/" + taskID(action)
			for i, s := range tc.steps {
				var r *http.Request
				if s.commit != "" {
					r = httptest.NewRequest(http.MethodPost, base+"/commit", strings.NewReader(s.commit))
					r.Header.Set(webhook.SignatureHeader, webhook.Sign(now, []byte(s.commit), ks.newest))
				} else {
					path := s.path
					if path == "" {
						path = fmt.Sprintf("/parts/%d", s.n)
					}
					signTask, signN := s.task, s.signN
					if signTask == "" {
						signTask = taskID(action)
					}
					if signN == 0 {
						signN = s.n
					}
					r = httptest.NewRequest(http.MethodPut, base+path, strings.NewReader(s.content))
					r.Header.Set(webhook.SignatureHeader, webhook.SignPart(now, signTask, signN, []byte(s.content), ks.older))
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				got := answer{Status: rec.Code}
				if s.commit != "" || rec.Code != http.StatusOK {
					got = decodeAnswer(t, rec)
				} else if want := partAnswer(s.n, s.content); rec.Body.String() != want {
					t.Errorf("step %d answered %s, want %s", i+1, rec.Body, want)
				}
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Errorf("step %d (-want +got):\n%s", i+1, diff)
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
