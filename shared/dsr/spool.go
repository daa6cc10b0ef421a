package dsr

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// The code mail of a portal submission is sent after the answer (issue 16):
// writing it was the slowest step of a submission (with the local outbox, a
// file created in a folder, serialized: the subjects' requests queued behind
// it). With a store that can spool, the mail is stored, sealed, in the same
// transaction as the request, so a submission that was answered has its mail
// on disk even if the process dies the next instant; RunMailSpool's senders
// send it and then delete the row. A process that died before sending leaves
// the row, and the next one sends it when it starts: no code mail is lost. A
// mail sent but not yet deleted is sent again under the same id, which the
// outbox turns into the same file and SMTP into the same Message-ID, so a
// mail client shows it once.

// spoolingStore stores a new request with its audit events and the mails
// that must follow it in one transaction (the SQLite store), lists what is
// still spooled and deletes what was sent.
type spoolingStore interface {
	CreateRequestWithMail(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent, mails []privacy.SpooledMail) error
	// SpooledMails returns up to limit mails spooled before the time, oldest first.
	SpooledMails(ctx context.Context, before time.Time, limit int) ([]privacy.SpooledMail, error)
	// DeleteSpooledMails deletes these ids; an absent id is no error.
	DeleteSpooledMails(ctx context.Context, ids []string) error
}

const (
	// spoolSenders is how many mails are sent at once.
	spoolSenders = 4
	// spoolQueue bounds the mails waiting in memory; past it a mail waits in
	// the store for the next re-drive.
	spoolQueue = 8192
	// spoolLease is how old a spooled mail is before a re-drive sends it
	// again: longer than any send takes, short beside the code's lifetime.
	spoolLease = time.Minute
	// spoolRedrive is how often the spool looks for such mails.
	spoolRedrive = 10 * time.Second
	// spoolPage is how many spooled mails one re-drive reads.
	spoolPage = 1000
)

// mailSpool is a running spool: the senders' queue and the ids in it.
type mailSpool struct {
	store spoolingStore
	// queue holds pointers: its buffer is scanned by every collection, and
	// spoolQueue mails by value would keep 512 KiB resident in an idle
	// process, by pointer 64 KiB.
	queue chan *privacy.Mail
	mu    sync.Mutex
	// inFlight holds the ids queued or being sent, so a re-drive does not
	// queue a mail a second time.
	inFlight map[string]bool
}

// take marks id in flight; false if it already was.
func (sp *mailSpool) take(id string) bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.inFlight[id] {
		return false
	}
	sp.inFlight[id] = true
	return true
}

func (sp *mailSpool) release(ids ...string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for _, id := range ids {
		delete(sp.inFlight, id)
	}
}

// spooling returns the running spool and the store to spool with, or nil when
// code mails are sent before the answer: RunMailSpool is not running, or the
// store cannot write a request, its audit and a mail in one transaction.
func (s *Service) spooling() (*mailSpool, spoolingStore) {
	sp := s.spool.Load()
	if sp == nil {
		return nil, nil
	}
	if _, ok := s.auditingStore(); !ok {
		return nil, nil
	}
	return sp, sp.store
}

// RunMailSpool sends spooled code mails until ctx ends: first those an
// earlier process left, then each new one right after its submission is
// answered, and every spoolRedrive those older than spoolLease (a send that
// failed, or one the in-memory queue had no room for). While it runs,
// submissions spool their code mails instead of sending them before the
// answer. It returns at once, doing nothing, when the store cannot spool
// (Cosmos DB, the in-memory store) or the outbox is deferred.
func (s *Service) RunMailSpool(ctx context.Context) {
	store, ok := s.d.Store.(spoolingStore)
	if _, auditing := s.auditingStore(); !ok || !auditing {
		return
	}
	sp := &mailSpool{store: store, queue: make(chan *privacy.Mail, spoolQueue), inFlight: map[string]bool{}}
	sent := make(chan string, spoolQueue)
	var wg sync.WaitGroup
	for range spoolSenders {
		wg.Go(func() {
			for {
				select {
				case m := <-sp.queue:
					s.sendSpooled(ctx, sp, *m, sent)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Go(func() { s.deleteSent(ctx, sp, sent) })
	started := s.now()
	s.spool.Store(sp)
	defer s.spool.Store(nil)
	// What is spooled from now on is queued by its submission; what is older
	// was left by an earlier process.
	s.redrive(ctx, sp, started)
	t := time.NewTicker(spoolRedrive)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.redrive(ctx, sp, s.now().Add(-spoolLease))
		case <-ctx.Done():
			wg.Wait()
			return
		}
	}
}

// enqueue hands a mail whose row was just committed to the senders; with no
// room it stays in the store for the re-drive.
func (s *Service) enqueue(ctx context.Context, sp *mailSpool, m privacy.Mail) {
	if !sp.take(m.ID) {
		return
	}
	select {
	case sp.queue <- &m:
	default:
		sp.release(m.ID)
		s.d.Logger.WarnContext(ctx, "code mail left to the spool's re-drive: the send queue is full", "mail_id", m.ID)
	}
}

// redrive queues the spooled mails created before the time that are not in
// flight, oldest first, at most spoolPage of them.
func (s *Service) redrive(ctx context.Context, sp *mailSpool, before time.Time) {
	mails, err := sp.store.SpooledMails(ctx, before, spoolPage)
	if err != nil {
		if ctx.Err() == nil {
			s.d.Logger.WarnContext(ctx, "spooled mails not read", "error", err.Error())
		}
		return
	}
	queued := 0
	for _, row := range mails {
		m, err := s.openMail(row)
		if err != nil {
			// Sealed with another SECRET_KEY: it can never be sent.
			s.d.Logger.ErrorContext(ctx, "spooled mail cannot be opened; dropped", "mail_id", row.ID, "error", err.Error())
			if err := sp.store.DeleteSpooledMails(ctx, []string{row.ID}); err != nil {
				s.d.Logger.WarnContext(ctx, "spooled mail not deleted", "mail_id", row.ID, "error", err.Error())
			}
			continue
		}
		if !sp.take(m.ID) {
			continue
		}
		select {
		case sp.queue <- &m:
			queued++
		case <-ctx.Done():
			return
		}
	}
	if queued > 0 {
		s.d.Logger.InfoContext(ctx, "spooled mails re-driven", "count", queued)
	}
}

// sendSpooled sends one mail and reports its id on sent; a failed send leaves
// the row for a later re-drive.
func (s *Service) sendSpooled(ctx context.Context, sp *mailSpool, m privacy.Mail, sent chan<- string) {
	s.d.Step("code-mail-sending")
	if err := s.d.Mailer.Send(ctx, m); err != nil {
		sp.release(m.ID)
		if ctx.Err() == nil {
			s.d.Logger.WarnContext(ctx, "code mail not sent; the spool sends it again later", "mail_id", m.ID, "error", err.Error())
		}
		return
	}
	s.d.Step("code-mail-sent")
	select {
	case sent <- m.ID:
	case <-ctx.Done():
		sp.release(m.ID)
	}
}

// deleteSent deletes the rows of sent mails, as many at once as have been
// sent meanwhile (one write for a batch). With a mailer that writes files
// (the local outbox), it first makes them durable (Sync): a row is deleted
// only once its mail would survive a power cut.
func (s *Service) deleteSent(ctx context.Context, sp *mailSpool, sent <-chan string) {
	syncer, _ := s.d.Mailer.(interface{ Sync() error })
	for {
		var ids []string
		select {
		case id := <-sent:
			ids = append(ids, id)
		case <-ctx.Done():
			return
		}
	drain:
		for len(ids) < spoolPage {
			select {
			case id := <-sent:
				ids = append(ids, id)
			default:
				break drain
			}
		}
		if syncer != nil {
			if err := syncer.Sync(); err != nil {
				s.d.Logger.WarnContext(ctx, "sent mails not synced; the spool sends them again later", "count", len(ids), "error", err.Error())
				sp.release(ids...)
				continue
			}
		}
		if err := sp.store.DeleteSpooledMails(ctx, ids); err != nil && ctx.Err() == nil {
			s.d.Logger.WarnContext(ctx, "sent mails not deleted from the spool; they may be sent again", "count", len(ids), "error", err.Error())
		}
		sp.release(ids...)
	}
}

// sealMail seals m for the spool with the spool key (AES-256-GCM, the mail
// id as additional data, so a row cannot be replayed under another id).
func (s *Service) sealMail(m privacy.Mail) ([]byte, error) {
	aead, err := s.spoolAEAD()
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, []byte(m.ID)), nil
}

// openMail opens a spooled mail sealed by sealMail.
func (s *Service) openMail(row privacy.SpooledMail) (privacy.Mail, error) {
	aead, err := s.spoolAEAD()
	if err != nil {
		return privacy.Mail{}, err
	}
	if len(row.Sealed) < aead.NonceSize() {
		return privacy.Mail{}, errors.New("open spooled mail: too short")
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, row.Sealed[:n], row.Sealed[n:], []byte(row.ID))
	if err != nil {
		return privacy.Mail{}, fmt.Errorf("open spooled mail: %w", err)
	}
	var m privacy.Mail
	if err := json.Unmarshal(plain, &m); err != nil {
		return privacy.Mail{}, fmt.Errorf("open spooled mail: %w", err)
	}
	if m.ID != row.ID {
		return privacy.Mail{}, errors.New("open spooled mail: id mismatch")
	}
	return m, nil
}

func (s *Service) spoolAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.pk.spool)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Spooling reports whether the mail spool runs: whether a portal submission
// now spools its code mail instead of sending it before the answer.
func (s *Service) Spooling() bool {
	sp, _ := s.spooling()
	return sp != nil
}
