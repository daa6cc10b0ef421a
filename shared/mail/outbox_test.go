package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

var fixedNow = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

// newTestOutbox returns an Outbox in a fresh folder with a fixed clock, and the
// buffer its logger writes to.
func newTestOutbox(tb testing.TB) (*Outbox, string, *bytes.Buffer) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "outbox")
	var logs bytes.Buffer
	o, err := NewOutbox(dir, "privacy@example.org", slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		tb.Fatalf("NewOutbox: %v", err)
	}
	o.Now = func() time.Time { return fixedNow }
	return o, dir, &logs
}

// readMail parses an .eml file and returns its headers of interest and body.
func readMail(tb testing.TB, path string) (map[string]string, string) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("open mail: %v", err)
	}
	defer f.Close()
	return parseMail(tb, f)
}

// parseMail parses an RFC 5322 message (decoding a quoted-printable body).
func parseMail(tb testing.TB, r io.Reader) (map[string]string, string) {
	tb.Helper()
	msg, err := mail.ReadMessage(r)
	if err != nil {
		tb.Fatalf("parse mail: %v", err)
	}
	h := map[string]string{}
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type", "Content-Transfer-Encoding"} {
		h[k] = msg.Header.Get(k)
	}
	if subj, err := new(mime.WordDecoder).DecodeHeader(h["Subject"]); err == nil {
		h["Subject"] = subj
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	if h["Content-Transfer-Encoding"] == "quoted-printable" {
		body, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			tb.Fatalf("decode body: %v", err)
		}
	}
	return h, strings.ReplaceAll(string(body), "\r\n", "\n")
}

func TestOutboxSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mail privacy.Mail
		want map[string]string
	}{
		{
			name: "ascii",
			mail: privacy.Mail{ID: "evt-1", To: "subject@example.com", Subject: "Your request", Text: "Hello,\nyour request was received.\n"},
			want: map[string]string{
				"From": "<privacy@example.org>", "To": "<subject@example.com>", "Subject": "Your request",
				"Date": "Thu, 31 Jan 2030 02:00:00 +0000", "Message-Id": "<evt-1@privops.local>", "Mime-Version": "1.0",
				"Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "quoted-printable",
				"body": "Hello,\nyour request was received.\n",
			},
		},
		{
			name: "utf-8 and a long line",
			mail: privacy.Mail{ID: "r_2.notice+extended=1", To: "Zoë <zoe@example.com>", Subject: "Demande prolongée",
				Text: "Délai prolongé de deux mois (RGPD art. 12(3)). " + strings.Repeat("x", 120)},
			want: map[string]string{
				"From": "<privacy@example.org>", "To": `"Zoë" <zoe@example.com>`, "Subject": "Demande prolongée",
				"Date": "Thu, 31 Jan 2030 02:00:00 +0000", "Message-Id": "<r_2.notice+extended=1@privops.local>", "Mime-Version": "1.0",
				"Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "quoted-printable",
				"body": "Délai prolongé de deux mois (RGPD art. 12(3)). " + strings.Repeat("x", 120),
			},
		},
		{
			name: "line break in subject cannot inject a header",
			mail: privacy.Mail{ID: "evt-3", To: "subject@example.com", Subject: "Hi\r\nBcc: evil@example.net", Text: "body text"},
			want: map[string]string{
				"From": "<privacy@example.org>", "To": "<subject@example.com>", "Subject": "Hi Bcc: evil@example.net",
				"Date": "Thu, 31 Jan 2030 02:00:00 +0000", "Message-Id": "<evt-3@privops.local>", "Mime-Version": "1.0",
				"Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "quoted-printable",
				"body": "body text",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, dir, logs := newTestOutbox(t)
			if err := o.Send(context.Background(), tc.mail); err != nil {
				t.Fatalf("Send: %v", err)
			}
			path := filepath.Join(dir, tc.mail.ID+".eml")
			h, body := readMail(t, path)
			h["To"] = normaliseAddr(t, h["To"])
			h["body"] = body
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("mail (-want +got):\n%s", diff)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("file mode = %v, want 0600", got)
			}
			di, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := di.Mode().Perm(); got != 0o700 {
				t.Errorf("folder mode = %v, want 0700", got)
			}
			// The log names the file, never the address or the text.
			if !strings.Contains(logs.String(), tc.mail.ID+".eml") {
				t.Errorf("log %q does not name the file", logs.String())
			}
			addr, _ := mail.ParseAddress(tc.mail.To)
			for _, secret := range []string{addr.Address, tc.mail.Text, tc.mail.Subject} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log %q contains personal data %q", logs.String(), secret)
				}
			}
		})
	}
}

// normaliseAddr re-formats an address header so that encodings compare equal.
func normaliseAddr(tb testing.TB, s string) string {
	tb.Helper()
	a, err := mail.ParseAddress(s)
	if err != nil {
		tb.Fatalf("parse address %q: %v", s, err)
	}
	if a.Name == "" {
		return "<" + a.Address + ">"
	}
	return `"` + a.Name + `" <` + a.Address + ">"
}

func TestOutboxOverwritesSameID(t *testing.T) {
	t.Parallel()
	o, dir, _ := newTestOutbox(t)
	ctx := context.Background()
	first := privacy.Mail{ID: "evt-1", To: "a@example.com", Subject: "first", Text: "one"}
	second := privacy.Mail{ID: "evt-1", To: "a@example.com", Subject: "second", Text: "two"}
	for _, m := range []privacy.Mail{first, second, second} {
		if err := o.Send(ctx, m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"evt-1.eml"}, names); diff != "" {
		t.Errorf("folder (-want +got):\n%s", diff)
	}
	h, body := readMail(t, filepath.Join(dir, "evt-1.eml"))
	if diff := cmp.Diff([]string{"second", "two"}, []string{h["Subject"], body}); diff != "" {
		t.Errorf("last mail wins (-want +got):\n%s", diff)
	}
}

func TestOutboxRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mail privacy.Mail
	}{
		{"traversal", privacy.Mail{ID: "../../etc/passwd", To: "a@example.com"}},
		{"dot dot", privacy.Mail{ID: "..", To: "a@example.com"}},
		{"hidden dot dot inside", privacy.Mail{ID: "a..b", To: "a@example.com"}},
		{"slash", privacy.Mail{ID: "a/b", To: "a@example.com"}},
		{"backslash", privacy.Mail{ID: `a\b`, To: "a@example.com"}},
		{"leading dot", privacy.Mail{ID: ".hidden", To: "a@example.com"}},
		{"header syntax", privacy.Mail{ID: "a>b<c@d", To: "a@example.com"}},
		{"empty", privacy.Mail{ID: "", To: "a@example.com"}},
		{"too long", privacy.Mail{ID: strings.Repeat("a", 201), To: "a@example.com"}},
		{"bad recipient", privacy.Mail{ID: "evt-1", To: "not an address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, dir, _ := newTestOutbox(t)
			err := o.Send(context.Background(), tc.mail)
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if errors.Is(err, privacy.ErrUnavailable) {
				t.Errorf("Send error %v is transient, want permanent", err)
			}
			if strings.Contains(err.Error(), "a@example.com") {
				t.Errorf("error %q names the recipient", err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("folder holds %d entries, want none", len(entries))
			}
		})
	}
}

func TestNewOutbox(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dir     string
		from    string
		wantErr bool
	}{
		{"ok", "outbox", "privacy@example.org", false},
		{"nested folder", "a/b/outbox", "Privacy <privacy@example.org>", false},
		{"bad sender", "outbox", "privacy", true},
		{"no folder", "", "privacy@example.org", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := tc.dir
			if dir != "" {
				dir = filepath.Join(t.TempDir(), dir)
			}
			_, err := NewOutbox(dir, tc.from, nil)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("NewOutbox error = %v, want error %t", err, tc.wantErr)
			}
		})
	}
}

// Sync fsyncs the files written since the last Sync (and the folder), then
// forgets them; a file removed meanwhile is no error.
func TestOutboxSync(t *testing.T) {
	t.Parallel()
	o, dir, _ := newTestOutbox(t)
	for _, id := range []string{"m1", "m2", "m3"} {
		if err := o.Send(t.Context(), privacy.Mail{ID: id, To: "subject@example.org", Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"m1.eml", "m2.eml", "m3.eml"}, o.unsynced); diff != "" {
		t.Errorf("unsynced before Sync (-want +got):\n%s", diff)
	}
	if err := os.Remove(filepath.Join(dir, "m2.eml")); err != nil {
		t.Fatal(err)
	}
	if err := o.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if len(o.unsynced) != 0 {
		t.Errorf("unsynced after Sync: %v", o.unsynced)
	}
	if err := o.Sync(); err != nil {
		t.Errorf("Sync with nothing written: %v", err)
	}
}
