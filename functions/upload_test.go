package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/webhook"
)

// exportDoc writes a deterministic export callback document of about size
// bytes for taskID: the same bytes every time, generated as they are read,
// so a test can hash and then send 200 MB without holding it.
func exportDoc(taskID string, size int64) (io.Reader, int64) {
	note := strings.Repeat("lorem ipsum dolor sit amet ", 36) // ~1 KB per item
	head := `{"taskId":"` + taskID + `","outcome":"done","items":[`
	item := func(i int64) string { return fmt.Sprintf(`{"i":%d,"note":%q}`, i, note) }
	n := (size - int64(len(head))) / int64(len(item(0))+1)
	var total int64 = int64(len(head)) + 2
	for i := range n {
		total += int64(len(item(i)))
		if i > 0 {
			total++
		}
	}
	pr, pw := io.Pipe()
	go func() {
		w := &bytesWriter{w: pw}
		w.s(head)
		for i := range n {
			if i > 0 {
				w.s(",")
			}
			w.s(item(i))
		}
		w.s("]}")
		pw.CloseWithError(w.flush())
	}()
	return pr, total
}

// bytesWriter batches small writes into 64 KiB writes to a pipe.
type bytesWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func (b *bytesWriter) s(v string) {
	b.buf = append(b.buf, v...)
	if len(b.buf) >= 64<<10 {
		b.err = b.flush()
	}
}

func (b *bytesWriter) flush() error {
	if b.err != nil {
		return b.err
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// TestExportOf200MBInParts runs the real binary with one webhook service that
// answers its export with 202, and checks that: a 20 MiB one-request callback
// is refused by the host's body cap (413) and leaves the task waiting; the
// same service then uploads a 200 MB export in parts (one part sent twice)
// and commits it; the task completes with every item; and the request's
// package is built. The export is generated while it is sent: the test holds
// one part at a time.
func TestExportOf200MBInParts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary and moves 200 MB; skipped with -short")
	}
	// Not parallel: it moves 200 MB through the binary and zips it, and on a
	// two-core machine beside the package's parallel tests the packaging alone
	// can outlast any sensible wait. Run alone it takes seconds.
	type call struct {
		TaskID      string `json:"taskId"`
		CallbackURL string `json:"callbackUrl"`
	}
	calls := make(chan call, 4)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c call
		_ = json.NewDecoder(r.Body).Decode(&c)
		calls <- c
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(svc.Close)

	data := t.TempDir()
	env := baseEnv(data)
	p := start(t, env)
	tok := devToken(t, env, "demo")
	settings := `{"name":"Demo Tenant","regimes":["eu-gdpr"],"establishment":["eu-gdpr"],"timeZone":"UTC","portalOrigins":[],
		"piplDays":30,"defaultDays":30,"contact":"privacy@demo.example","allowPrivateConnectors":true,"erasureGraceDays":0,
		"exportLinkDays":7,"lgpdSmallAgent":false}`
	if status, body := send("PUT", p.addr+"/api/admin/demo/settings", tok, settings, nil); status != 200 {
		t.Fatalf("settings: %d %v", status, body)
	}
	status, body := send("PUT", p.addr+"/api/admin/demo/services/archive", tok, `{"name":"Archive","kind":"webhook","actions":["export"],
		"categories":["usage"],"identifiers":["email"],"url":"`+svc.URL+`/archive"}`, nil)
	if status != 201 {
		t.Fatalf("service: %d %v", status, body)
	}
	raw, err := base64.StdEncoding.DecodeString(body["newSecret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	secret := webhook.DeriveKey(raw, webhook.DirectionCallback) // a new service signs callbacks with its callback key (v2)
	status, body = send("POST", p.addr+"/api/admin/demo/requests", tok, `{"type":"access","email":"ada@example.com","country":"DE"}`, nil)
	if status != 201 {
		t.Fatalf("submit: %d %v", status, body)
	}
	id := body["id"].(string)
	if status, body = send("POST", p.addr+"/api/admin/demo/requests/"+id+"/approve", tok, "", nil); status != 200 {
		t.Fatalf("approve: %d %v", status, body)
	}
	var c call
	select {
	case c = <-calls:
	case <-time.After(30 * time.Second):
		t.Fatal("the service was never called")
	}
	client := &http.Client{Timeout: 2 * time.Minute}

	// One request of 20 MiB: above the host's 16 MiB cap.
	doc, n := exportDoc(c.TaskID, 20<<20)
	sum := hmacOf(t, doc, secret, time.Now())
	doc, _ = exportDoc(c.TaskID, 20<<20)
	req, _ := http.NewRequest("POST", c.CallbackURL, doc)
	req.ContentLength = n
	req.Header.Set(webhook.SignatureHeader, sum)
	if res, err := client.Do(req); err != nil {
		t.Logf("20 MiB callback: %v (the host closed the connection)", err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("20 MiB callback: %d, want 413", res.StatusCode)
		}
	}
	if st := taskStatus(t, p.addr, tok, id); st != "waiting" {
		t.Fatalf("after the refused callback the task is %q, want waiting", st)
	}

	// The same service uploads 200 MB in parts, part 2 twice (a retry).
	const size = 200 << 20
	doc, n = exportDoc(c.TaskID, size)
	whole := sha256.New()
	buf := make([]byte, webhook.MaxPartBytes)
	parts := 0
	for {
		k, err := io.ReadFull(doc, buf)
		if k == 0 {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			t.Fatal(err)
		}
		parts++
		whole.Write(buf[:k])
		for range 1 + btoi(parts == 2) {
			putPart(t, client, c.CallbackURL, c.TaskID, parts, buf[:k], secret)
		}
	}
	commit := fmt.Sprintf(`{"taskId":%q,"parts":%d,"bytes":%d,"sha256":%q}`, c.TaskID, parts, n, hex.EncodeToString(whole.Sum(nil)))
	req, _ = http.NewRequest("POST", c.CallbackURL+"/commit", strings.NewReader(commit))
	req.Header.Set(webhook.SignatureHeader, webhook.SignWith(time.Now(), []byte(commit), webhook.Key{Scheme: webhook.SchemeV2, Secret: secret}))
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(answer, []byte(`"status":"done"`)) {
		t.Fatalf("commit: %d %s", res.StatusCode, answer)
	}

	// A bound on the wait, not a speed target (that is BenchmarkPackage1GB's).
	deadline := time.Now().Add(5 * time.Minute)
	for {
		status, r := send("GET", p.addr+"/api/admin/demo/requests/"+id, tok, "", nil)
		if status == 200 && r["status"] == "completed" && r["package"] != nil {
			task := r["tasks"].([]any)[0].(map[string]any)
			want := float64((size - 40) / 1000) // exportDoc's items, within rounding
			if items := task["items"].(float64); items < want*0.95 || items > want*1.05 {
				t.Errorf("task items %v, want about %v", items, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request not completed with a package: %v", r)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("200 MB export: %d parts of at most %d bytes, %d bytes in all", parts, webhook.MaxPartBytes, n)
	p.stop(t)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hmacOf reads r to the end and returns its signature header, streaming.
func hmacOf(tb testing.TB, r io.Reader, secret []byte, at time.Time) string {
	tb.Helper()
	t := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t + "."))
	if _, err := io.Copy(m, r); err != nil {
		tb.Fatal(err)
	}
	return "t=" + t + ",v2=" + hex.EncodeToString(m.Sum(nil))
}

func putPart(tb testing.TB, client *http.Client, callbackURL, taskID string, n int, part, secret []byte) {
	tb.Helper()
	req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/parts/%d", callbackURL, n), bytes.NewReader(part))
	req.Header.Set(webhook.SignatureHeader, webhook.SignPartWith(time.Now(), taskID, n, part, webhook.Key{Scheme: webhook.SchemeV2, Secret: secret}))
	res, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	sum := sha256.Sum256(part)
	if res.StatusCode != 200 || !bytes.Contains(body, []byte(hex.EncodeToString(sum[:]))) {
		tb.Fatalf("part %d: %d %s", n, res.StatusCode, body)
	}
}

func taskStatus(tb testing.TB, addr, tok, id string) string {
	tb.Helper()
	status, r := send("GET", addr+"/api/admin/demo/requests/"+id, tok, "", nil)
	if status != 200 {
		tb.Fatalf("read request: %d %v", status, r)
	}
	return r["tasks"].([]any)[0].(map[string]any)["status"].(string)
}
