package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"syscall"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/privops/privops/shared/privacy"
)

// SMTPConfig configures the SMTP mailer.
type SMTPConfig struct {
	Host     string // required
	Port     int    // 0: 587; 465 means implicit TLS (RFC 8314), any other STARTTLS per TLS
	Username string // "": no authentication; else AUTH PLAIN
	Password string // never printed (see String, LogValue)
	From     string // the sender address, required
	// TLS is the STARTTLS policy: "mandatory" (the default when empty: refuse a
	// server without STARTTLS), "opportunistic" (use it when offered) or "none".
	TLS string
	// Timeout bounds the connection and each command; 0: 15 s.
	Timeout time.Duration
}

// String describes the configuration without the password.
func (c SMTPConfig) String() string {
	return fmt.Sprintf("smtp %s:%d user=%q from=%q tls=%q timeout=%s", c.Host, c.Port, c.Username, c.From, c.TLS, c.Timeout)
}

// LogValue logs the configuration without the password.
func (c SMTPConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", c.Host), slog.Int("port", c.Port),
		slog.String("username", c.Username), slog.String("tls", c.TLS), slog.Int64("timeout_ms", c.Timeout.Milliseconds()))
}

// SMTP is the production Mailer: it sends each mail through an SMTP server, one
// connection per mail. Safe for concurrent use.
type SMTP struct {
	cfg    SMTPConfig
	domain string // right part of Message-IDs: the sender's domain
	opts   []gomail.Option

	// Now gives the Date header; time.Now unless replaced before first use.
	Now func() time.Time
}

var _ privacy.Mailer = (*SMTP)(nil)

// NewSMTP checks cfg and returns an SMTP mailer; it does not connect. It fails
// on a missing host, an invalid sender address, an unknown TLS policy or a
// negative port or timeout.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("new smtp mailer: no host")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("new smtp mailer: invalid sender address %q", cfg.From)
	}
	if cfg.Port == 0 {
		cfg.Port = gomail.DefaultPortTLS
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("new smtp mailer: invalid port %d", cfg.Port)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = gomail.DefaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("new smtp mailer: negative timeout %s", cfg.Timeout)
	}
	var policy gomail.TLSPolicy
	switch strings.ToLower(cfg.TLS) {
	case "", "mandatory":
		policy = gomail.TLSMandatory
	case "opportunistic":
		policy = gomail.TLSOpportunistic
	case "none":
		policy = gomail.NoTLS
	default:
		return nil, fmt.Errorf("new smtp mailer: TLS policy %q is not mandatory, opportunistic or none", cfg.TLS)
	}
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout), gomail.WithTLSPolicy(policy)}
	if cfg.Port == gomail.DefaultPortSSL {
		opts = append(opts, gomail.WithSSL()) // RFC 8314 implicit TLS
	}
	if cfg.Username != "" {
		// PLAIN refuses to send the password over a connection that is neither
		// TLS nor to localhost.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	return &SMTP{cfg: cfg, domain: domain, opts: opts, Now: time.Now}, nil
}

// Send sends m through the server, with Message-ID <ID@sender-domain>. It is
// not idempotent on the wire (a resend is a second mail with the same
// Message-ID); the caller records what was sent. Errors, which say
// "send mail <ID>: …" and never contain the recipient address or the server's
// reply text (either may echo the address):
//   - wrapping privacy.ErrUnavailable: a transient failure (connection refused
//     or lost, timeout, a cancelled ctx, a 4xx reply, any failure that is not a
//     5xx reply); retrying later may succeed;
//   - otherwise: a permanent failure (a 5xx reply, an invalid ID or address);
//     retrying will not help.
func (s *SMTP) Send(ctx context.Context, m privacy.Mail) error {
	msg, err := compose(m, s.cfg.From, s.domain, s.Now())
	if err != nil {
		return err
	}
	client, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("send mail %s: new client: %w", m.ID, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		detail, transient := classify(ctx, err)
		if transient {
			return fmt.Errorf("send mail %s: %s: %w", m.ID, detail, privacy.ErrUnavailable)
		}
		return fmt.Errorf("send mail %s: %s", m.ID, detail)
	}
	return nil
}

// classify describes err without any text the server sent, and reports whether
// it is transient: everything but a 5xx reply and a message the client itself
// cannot send.
func classify(ctx context.Context, err error) (detail string, transient bool) {
	var sendErr *gomail.SendError
	var protoErr *textproto.Error
	var netErr net.Error
	switch {
	case errors.As(err, &sendErr):
		// Its text lists the rejected recipients: report the step and code only.
		detail = sendErr.Reason.String()
		if code := sendErr.ErrorCode(); code != 0 {
			detail += ": " + replyCode(code, sendErr.EnhancedStatusCode())
			return detail, code < 500
		}
		switch sendErr.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return detail, false
		}
		return detail, true
	case errors.As(err, &protoErr): // a reply during HELO, STARTTLS or AUTH
		return "connect: " + replyCode(protoErr.Code, ""), protoErr.Code < 500
	case ctx.Err() != nil:
		return "connect: " + ctx.Err().Error(), true
	case errors.As(err, &netErr) && netErr.Timeout():
		return "connect: timeout", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect: connection refused", true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "connect: connection closed by server", true
	}
	// Dial and TLS errors name the server, never the recipient.
	return err.Error(), true
}

// replyCode formats an SMTP reply code and its enhanced status code, if any.
func replyCode(code int, enhanced string) string {
	if enhanced == "" {
		return fmt.Sprintf("smtp %d", code)
	}
	return fmt.Sprintf("smtp %d %s", code, enhanced)
}
