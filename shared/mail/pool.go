package mail

import (
	"context"
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
	if c == nil {
		if c, err = gomail.NewClient(p.smtp.cfg.Host, p.smtp.opts...); err != nil {
			c = nil
			return fmt.Errorf("send mail %s: new client: %w", m.ID, err)
		}
		if err := c.DialWithContext(ctx); err != nil {
			c = nil
			detail, _ := classify(ctx, err)
			return fmt.Errorf("send mail %s: %s: %w", m.ID, detail, privacy.ErrUnavailable)
		}
	}
	if err := c.Send(msg); err != nil {
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
