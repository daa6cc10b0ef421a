package webhook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// TestRunExportStreamsWithBoundedMemory runs alone (no t.Parallel): it
// measures the allocations of the whole process while a 50 MB export streams
// from the fake service into Save.
func TestRunExportStreamsWithBoundedMemory(t *testing.T) {
	const (
		chunkItems = 1000
		chunks     = 500
	)
	item := `{"id":"u-%06d","email":"` + email + `","note":"lorem ipsum dolor sit amet, consectetur adipiscing elit"}`
	var chunk bytes.Buffer
	for i := range chunkItems {
		fmt.Fprintf(&chunk, ","+item, i)
	}
	first := []byte(`{"items":[` + strings.TrimPrefix(chunk.String(), ","))
	rest := chunk.Bytes()
	sent := &hashWriter{h: sha256.New()}
	f := newFakeService(t, secretOld, func(w http.ResponseWriter, _ *http.Request) {
		out := io.MultiWriter(w, sent)
		_, _ = out.Write(first)
		for range chunks - 1 {
			_, _ = out.Write(rest)
		}
		_, _ = io.WriteString(out, "]}\n")
	})
	var s sink
	call := newCall(privacy.ActionExport)
	call.Save = s.save
	c := connector(webhook.Options{})
	svc := service(f.url(), secretOld)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := c.Run(t.Context(), svc, call)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if diff := cmp.Diff(privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: chunkItems * chunks}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if sent.n < 50<<20 || s.n != sent.n || !bytes.Equal(s.sum, sent.h.Sum(nil)) {
		t.Errorf("Save got %d bytes, service sent %d (≥ 50 MiB expected); hashes equal: %v", s.n, sent.n, bytes.Equal(s.sum, sent.h.Sum(nil)))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("streaming %d MiB allocated %d KiB in total, want < 8 MiB", sent.n>>20, alloc>>10)
	} else {
		t.Logf("streaming %d MiB allocated %d KiB in total", sent.n>>20, alloc>>10)
	}
}

func TestRunExport(t *testing.T) {
	t.Parallel()
	subject := `{"email":"` + email + `","orders":[{"id":1},{"id":2}]}`
	tests := []struct {
		name   string
		status int
		body   string
		items  int
		code   string // "" for success
	}{
		{"empty items", 200, `{"items":[]}`, 0, ""},
		{"one item", 200, `{"items":[` + subject + `]}`, 1, ""},
		{"values of every kind", 200, `{"items":[1,"two",{"a":[1,2]},[3],null,true,-1.5e3]}`, 7, ""},
		{"other keys and white space", 200, " \n{\"service\":\"crm\",\"items\":[" + subject + "],\"next\":null}\n\n", 1, ""},
		{"an items key inside another value is not counted", 200, `{"meta":{"items":[1,2,3]},"items":[1]}`, 1, ""},
		{"garbage", 200, bodyMarker, 0, "malformed-export"},
		{"empty", 200, "", 0, "malformed-export"},
		{"204", 204, "", 0, "malformed-export"},
		{"array", 200, `[` + subject + `]`, 0, "malformed-export"},
		{"no items", 200, `{"data":[` + subject + `]}`, 0, "malformed-export"},
		{"items not an array", 200, `{"items":3}`, 0, "malformed-export"},
		{"items an object", 200, `{"items":{"a":1}}`, 0, "malformed-export"},
		{"items twice", 200, `{"items":[1],"items":[2]}`, 0, "malformed-export"},
		{"trailing comma", 200, `{"items":[1,]}`, 0, "malformed-export"},
		{"unterminated", 200, `{"items":[` + subject, 0, "malformed-export"},
		{"unterminated string", 200, `{"items":["` + bodyMarker, 0, "malformed-export"},
		{"second value", 200, `{"items":[1]}{"items":[]}`, 0, "malformed-export"},
		{"trailing garbage", 200, `{"items":[1]} ` + bodyMarker, 0, "malformed-export"},
		{"bad escape", 200, `{"items":["\q"]}`, 0, "malformed-export"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t, secretOld, answer(tc.status, tc.body))
			var s sink
			call := newCall(privacy.ActionExport)
			call.Save = s.save
			got, err := connector(webhook.Options{}).Run(t.Context(), service(f.url(), secretOld), call)
			checkErrorText(t, err)
			if tc.code != "" {
				if e := webhookError(t, err); e.Code != tc.code || e.Temporary {
					t.Errorf("Run error = %q (code %q), want permanent %q", err, e.Code, tc.code)
				}
				if s.committed() {
					t.Error("Save committed a malformed export")
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: tc.items}, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if !s.committed() || s.data.String() != tc.body {
				t.Errorf("Save got %q (committed %v), want the service's bytes %q", s.data.String(), s.committed(), tc.body)
			}
		})
	}
}

func TestRunExportLimits(t *testing.T) {
	t.Parallel()
	// exactly 1 MiB of valid export
	pad := 1<<20 - len(`{"items":[""]}`)
	exact := `{"items":["` + strings.Repeat("a", pad) + `"]}`
	tests := []struct {
		name   string
		opts   webhook.Options
		body   string
		code   string
		phrase string
	}{
		{"at the cap", webhook.Options{MaxExportBytes: 1 << 20}, exact, "", ""},
		{"one byte over the cap", webhook.Options{MaxExportBytes: 1<<20 - 1}, exact, "export-too-large", "export larger than 1048575 bytes"},
		{"far over the cap", webhook.Options{MaxExportBytes: 1 << 20}, `{"items":[` + strings.Repeat(`{"a":1},`, 1<<18) + `1]}`, "export-too-large", "export larger than 1048576 bytes"},
		{"one item over the item cap", webhook.Options{MaxItemBytes: 64 << 10}, `{"items":[1,"` + strings.Repeat("a", 256<<10) + `",2]}`, "export-item-too-large", "export item larger than 65536 bytes"},
		{"many items under the item cap", webhook.Options{MaxItemBytes: 64 << 10}, `{"items":[` + strings.Repeat(`"`+strings.Repeat("b", 32<<10)+`",`, 16) + `1]}`, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t, secretOld, answer(200, tc.body))
			var s sink
			call := newCall(privacy.ActionExport)
			call.Save = s.save
			_, err := connector(tc.opts).Run(t.Context(), service(f.url(), secretOld), call)
			checkErrorText(t, err)
			if tc.code == "" {
				if err != nil || !s.committed() || s.n != int64(len(tc.body)) {
					t.Errorf("Run error = %v, Save committed %v with %d bytes; want success with %d", err, s.committed(), s.n, len(tc.body))
				}
				return
			}
			e := webhookError(t, err)
			if e.Code != tc.code || e.Temporary || !strings.HasSuffix(err.Error(), tc.phrase) {
				t.Errorf("Run error = %q (code %q), want permanent %q ending %q", err, e.Code, tc.code, tc.phrase)
			}
			if s.committed() {
				t.Error("Save committed a truncated export")
			}
		})
	}
}

func TestRunExportSaveFails(t *testing.T) {
	t.Parallel()
	body := `{"items":[` + strings.Repeat(`{"email":"`+email+`"},`, 100_000) + `1]}`
	blobDown := fmt.Errorf("put blob acme/req-1/crm.json: %w", privacy.ErrUnavailable)
	quota := errors.New("put blob acme/req-1/crm.json: quota exceeded")
	tests := []struct {
		name      string
		save      func(context.Context, io.Reader) (int64, error)
		temporary bool
		phrase    string
	}{
		{"store unavailable", func(_ context.Context, r io.Reader) (int64, error) {
			n, _ := io.CopyN(io.Discard, r, 100<<10)
			return n, blobDown
		}, true, "save export: " + blobDown.Error()},
		{"store refuses", func(_ context.Context, r io.Reader) (int64, error) {
			n, _ := io.Copy(io.Discard, r)
			return n, quota
		}, false, "save export: " + quota.Error()},
		{"stops reading without an error", func(context.Context, io.Reader) (int64, error) {
			return 0, nil
		}, false, "save stopped reading before the end of the export"},
		{"stops reading until the deadline", func(ctx context.Context, r io.Reader) (int64, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, true, "timed out after 300ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t, secretOld, answer(200, body))
			call := newCall(privacy.ActionExport)
			call.Save = tc.save
			timeout := 10 * time.Second
			if tc.temporary && strings.Contains(tc.phrase, "timed out") {
				timeout = 300 * time.Millisecond
			}
			_, err := connector(webhook.Options{Timeout: timeout}).Run(t.Context(), service(f.url(), secretOld), call)
			checkErrorText(t, err)
			e := webhookError(t, err)
			if e.Code != "save" && e.Code != "timeout" || e.Temporary != tc.temporary || errors.Is(err, privacy.ErrUnavailable) != tc.temporary ||
				!strings.HasSuffix(err.Error(), tc.phrase) {
				t.Errorf("Run error = %q (code %q, temporary %v), want %q, temporary %v", err, e.Code, e.Temporary, tc.phrase, tc.temporary)
			}
		})
	}
}
