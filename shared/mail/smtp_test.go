package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// received is one message an in-process server accepted.
type received struct {
	From string
	To   []string
	Data []byte
}

// backend is an in-process SMTP server backend that records what it accepts.
// With user set it offers AUTH PLAIN and requires it; rcptErr and dataErr make
// it reject RCPT TO or DATA.
type backend struct {
	user, pass string
	rcptErr    *smtp.SMTPError
	dataErr    *smtp.SMTPError

	mu       sync.Mutex
	messages []received
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{b: b}, nil }

func (b *backend) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.messages...)
}

type session struct {
	b      *backend
	authed bool
	cur    received
}

func (s *session) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.user || pass != s.b.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rcptErr != nil {
		return s.b.rcptErr
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.dataErr != nil {
		return s.b.dataErr
	}
	s.cur.Data = data
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// startSMTP serves be on 127.0.0.1:<free port> until the test ends and returns
// the port.
func startSMTP(tb testing.TB, be *backend) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // AUTH PLAIN without TLS, test only
	srv.ReadTimeout = 5 * time.Second
	srv.WriteTimeout = 5 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	go srv.Serve(ln) //nolint:errcheck // returns when closed
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort returns a local port nothing listens on.
func closedPort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// silentPort returns a local port that accepts connections and never answers.
func silentPort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// newTestSMTP returns an SMTP mailer for cfg with a fixed clock.
func newTestSMTP(tb testing.TB, cfg SMTPConfig) *SMTP {
	tb.Helper()
	s, err := NewSMTP(cfg)
	if err != nil {
		tb.Fatalf("NewSMTP: %v", err)
	}
	s.Now = func() time.Time { return fixedNow }
	return s
}

func TestSMTPSend(t *testing.T) {
	t.Parallel()
	m := privacy.Mail{ID: "evt-7", To: "Zoë <zoe@example.com>", Subject: "Demande prolongée", Text: "Délai prolongé.\nMerci.\n"}
	tests := []struct {
		name string
		be   *backend
		cfg  SMTPConfig
	}{
		{"no auth", &backend{}, SMTPConfig{From: "Privacy <privacy@example.org>", TLS: "none"}},
		{"auth plain", &backend{user: "mailer", pass: "s3cret"}, SMTPConfig{From: "privacy@example.org", TLS: "none", Username: "mailer", Password: "s3cret"}},
		{"opportunistic tls without starttls", &backend{}, SMTPConfig{From: "privacy@example.org", TLS: "opportunistic"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.Host, cfg.Port, cfg.Timeout = "127.0.0.1", startSMTP(t, tc.be), 5*time.Second
			s := newTestSMTP(t, cfg)
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := tc.be.received()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			envelope := []string{got[0].From, strings.Join(got[0].To, ",")}
			if diff := cmp.Diff([]string{"privacy@example.org", "zoe@example.com"}, envelope); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			h, body := parseMail(t, bytes.NewReader(got[0].Data))
			h["To"] = normaliseAddr(t, h["To"])
			h["From"] = normaliseAddr(t, h["From"])
			h["body"] = body
			want := map[string]string{
				"From": normaliseAddr(t, cfg.From), "To": `"Zoë" <zoe@example.com>`, "Subject": "Demande prolongée",
				"Date": "Thu, 31 Jan 2030 02:00:00 +0000", "Message-Id": "<evt-7@example.org>", "Mime-Version": "1.0",
				"Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "quoted-printable",
				"body": m.Text,
			}
			if diff := cmp.Diff(want, h); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSMTPSendFailures(t *testing.T) {
	t.Parallel()
	m := privacy.Mail{ID: "evt-8", To: "zoe@example.com", Subject: "Hello", Text: "body"}
	tests := []struct {
		name          string
		port          func(testing.TB) int
		cfg           SMTPConfig
		wantTransient bool
	}{
		{
			name: "451 at rcpt is transient",
			port: func(tb testing.TB) int {
				return startSMTP(tb, &backend{rcptErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later zoe@example.com"}})
			},
			wantTransient: true,
		},
		{
			name: "451 at data is transient",
			port: func(tb testing.TB) int {
				return startSMTP(tb, &backend{dataErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}})
			},
			wantTransient: true,
		},
		{
			name: "550 at rcpt is permanent",
			port: func(tb testing.TB) int {
				return startSMTP(tb, &backend{rcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user zoe@example.com"}})
			},
			wantTransient: false,
		},
		{
			name: "554 at data is permanent",
			port: func(tb testing.TB) int {
				return startSMTP(tb, &backend{dataErr: &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "rejected"}})
			},
			wantTransient: false,
		},
		{
			name:          "wrong password is permanent",
			port:          func(tb testing.TB) int { return startSMTP(tb, &backend{user: "mailer", pass: "right"}) },
			cfg:           SMTPConfig{Username: "mailer", Password: "wrong"},
			wantTransient: false,
		},
		{
			name:          "closed port is transient",
			port:          closedPort,
			wantTransient: true,
		},
		{
			name:          "silent server times out, transient",
			port:          silentPort,
			cfg:           SMTPConfig{Timeout: 300 * time.Millisecond},
			wantTransient: true,
		},
		{
			name:          "mandatory tls without starttls is transient",
			port:          func(tb testing.TB) int { return startSMTP(tb, &backend{}) },
			cfg:           SMTPConfig{TLS: "mandatory"},
			wantTransient: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.Host, cfg.Port, cfg.From = "127.0.0.1", tc.port(t), "privacy@example.org"
			if cfg.TLS == "" {
				cfg.TLS = "none"
			}
			if cfg.Timeout == 0 {
				cfg.Timeout = 5 * time.Second
			}
			err := newTestSMTP(t, cfg).Send(context.Background(), m)
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if got := errors.Is(err, privacy.ErrUnavailable); got != tc.wantTransient {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %t, want %t", err, got, tc.wantTransient)
			}
			if !strings.HasPrefix(err.Error(), "send mail evt-8: ") {
				t.Errorf("error %q does not start with the operation and id", err)
			}
			if strings.Contains(err.Error(), "zoe") {
				t.Errorf("error %q names the recipient", err)
			}
		})
	}
}

func TestSMTPSendCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := newTestSMTP(t, SMTPConfig{Host: "127.0.0.1", Port: silentPort(t), From: "privacy@example.org", TLS: "none"})
	err := s.Send(ctx, privacy.Mail{ID: "evt-9", To: "zoe@example.com", Subject: "s", Text: "t"})
	if !errors.Is(err, privacy.ErrUnavailable) {
		t.Errorf("Send with a cancelled context = %v, want ErrUnavailable", err)
	}
}

func TestNewSMTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     SMTPConfig
		wantErr bool
	}{
		{"defaults", SMTPConfig{Host: "smtp.example.org", From: "privacy@example.org"}, false},
		{"implicit tls port", SMTPConfig{Host: "smtp.example.org", Port: 465, From: "privacy@example.org"}, false},
		{"no host", SMTPConfig{From: "privacy@example.org"}, true},
		{"bad sender", SMTPConfig{Host: "smtp.example.org", From: "privacy"}, true},
		{"bad tls policy", SMTPConfig{Host: "smtp.example.org", From: "privacy@example.org", TLS: "sometimes"}, true},
		{"bad port", SMTPConfig{Host: "smtp.example.org", From: "privacy@example.org", Port: 70000}, true},
		{"negative timeout", SMTPConfig{Host: "smtp.example.org", From: "privacy@example.org", Timeout: -time.Second}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewSMTP(tc.cfg)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("NewSMTP error = %v, want error %t", err, tc.wantErr)
			}
		})
	}
}

func TestSMTPConfigHidesPassword(t *testing.T) {
	t.Parallel()
	cfg := SMTPConfig{Host: "smtp.example.org", Port: 587, Username: "mailer", Password: "s3cret", From: "privacy@example.org"}
	for _, s := range []string{cfg.String(), cfg.LogValue().String(), strconv.Quote(cfg.String())} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("%q shows the password", s)
		}
	}
}
