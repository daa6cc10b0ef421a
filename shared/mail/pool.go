package mail

import (
	"context"
	"errors"
	"fmt"

	gomail "github.com/wneessen/go-mail"

	"github.com/privops/privops/shared/privacy"
)

// Pool is an SMTP mailer that keeps up to Size connections open and sends
// each mail on one of them: the breach lane's mailer, with its own
// connections and limit beside the per-mail connections of SMTP, so a
// campaign of a million mails neither waits for a handshake per mail nor
// takes the connections the verification codes need. A connection that fails
// is closed and dialled again for the next mail. Safe for concurrent use.
type Pool struct {
	smtp  *SMTP
	slots chan *gomail.Client // a nil entry is a slot with no connection yet
}

var _ privacy.Mailer = (*Pool)(nil)

// NewPool returns a pool of at most size connections configured as cfg; it
// does not connect.
func NewPool(cfg SMTPConfig, size int) (*Pool, error) {
	s, err := NewSMTP(cfg)
	if err != nil {
		return nil, err
	}
	if size < 1 {
		return nil, fmt.Errorf("new smtp pool: size %d is below 1", size)
	}
	// No NOOP before each mail (go-mail's default): a connection that died
	// while idle fails at MAIL FROM, before anything was sent, and Send then
	// dials again once.
	s.opts = append(s.opts, gomail.WithoutNoop())
	p := &Pool{smtp: s, slots: make(chan *gomail.Client, size)}
	for range size {
		p.slots <- nil
	}
	return p, nil
}

// Send sends m on a pooled connection, with the errors of SMTP.Send: a
// wrapped privacy.ErrUnavailable for a transient failure, another error for a
// permanent one (a 5xx reply, an invalid address), never with the address or
// the server's text. It waits for a free connection as long as ctx allows.
func (p *Pool) Send(ctx context.Context, m privacy.Mail) error {
	msg, err := compose(m, p.smtp.cfg.From, p.smtp.domain, p.smtp.Now())
	if err != nil {
		return err
	}
	var c *gomail.Client
	select {
	case c = <-p.slots:
	case <-ctx.Done():
		return fmt.Errorf("send mail %s: wait for a connection: %w: %w", m.ID, ctx.Err(), privacy.ErrUnavailable)
	}
	defer func() { p.slots <- c }()
	reused := c != nil
	for {
		if c == nil {
			if c, err = p.dial(ctx); err != nil {
				return fmt.Errorf("send mail %s: %w", m.ID, err)
			}
		}
		err = c.Send(msg)
		if err == nil || !reused || !beforeData(err) {
			break
		}
		// A pooled connection that went stale: nothing was sent, dial anew.
		_ = c.Close()
		c, reused = nil, false
	}
	if err != nil {
		detail, transient := classify(ctx, err)
		if transient {
			// The connection may be broken: dial a new one next time.
			_ = c.Close()
			c = nil
			return fmt.Errorf("send mail %s: %s: %w", m.ID, detail, privacy.ErrUnavailable)
		}
		return fmt.Errorf("send mail %s: %s", m.ID, detail)
	}
	return nil
}

// dial opens one connection.
func (p *Pool) dial(ctx context.Context) (*gomail.Client, error) {
	c, err := gomail.NewClient(p.smtp.cfg.Host, p.smtp.opts...)
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	if err := c.DialWithContext(ctx); err != nil {
		detail, _ := classify(ctx, err)
		return nil, fmt.Errorf("%s: %w", detail, privacy.ErrUnavailable)
	}
	return c, nil
}

// beforeData reports whether a send failed before the message could have
// been accepted (no connection, or the server gone at MAIL FROM), so that
// sending it again on a new connection cannot deliver it twice.
func beforeData(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) || se.ErrorCode() >= 500 {
		return false
	}
	return se.Reason == gomail.ErrConnCheck || se.Reason == gomail.ErrSMTPMailFrom
}

// Close closes the open connections (QUIT). Sends after Close dial again.
func (p *Pool) Close() {
	for range cap(p.slots) {
		c := <-p.slots
		if c != nil {
			_ = c.Close()
		}
		defer func() { p.slots <- nil }()
	}
}
