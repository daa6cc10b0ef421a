package main

import (
	"context"
	"errors"
	"fmt"

	breachsendfn "github.com/privops/privops/functions/breachsend"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/mail"
	"github.com/privops/privops/shared/privacy"
)

// openBreachMailer returns the breach lane's own mailer: with MAIL_BACKEND=smtp
// a pool of BREACH_SEND_CONNECTIONS connections of its own (the codes and DSR
// notices keep their per-mail connections), else an outbox writer of its own
// on the same folder.
func (a *app) openBreachMailer() (privacy.Mailer, error) {
	cfg := a.cfg
	if cfg.MailBackend == "smtp" {
		p, err := mail.NewPool(mail.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword, From: cfg.MailFrom, TLS: cfg.SMTPTLS}, cfg.BreachSendConnections)
		if err != nil {
			return nil, fmt.Errorf("MAIL_BACKEND: breach lane: %w", err)
		}
		a.closers = append(a.closers, p.Close)
		return p, nil
	}
	m, err := mail.NewOutbox(cfg.MailOutboxDir, cfg.MailFrom, a.log)
	if err != nil {
		return nil, fmt.Errorf("MAIL_BACKEND: breach lane: %w", err)
	}
	return m, nil
}

// breachStore is the fan-out's store: with STORE_BACKEND=cosmos the Cosmos
// adapter (its own breachsend container), else the embedded SQLite file; nil
// without either, and the routes answer 501 breach-notification-not-available.
func (a *app) breachStore() breachsend.Store {
	if s, ok := a.cosmosBreachSend(); ok {
		return s
	}
	if a.db != nil && a.cfg.StoreBackend != "cosmos" {
		return a.db.BreachSend()
	}
	return nil
}

// newBreachSend builds the data-subject fan-out, or nil without a store.
func (a *app) newBreachSend(ad adapters) (*breachsend.Service, error) {
	if ad.breachStore == nil {
		return nil, nil
	}
	cfg := a.cfg
	m := ad.breachMailer
	if m == nil {
		m = ad.mailer
	}
	store := ad.store
	return breachsend.New(breachsend.Config{Queue: cfg.BreachSendQueue, BatchSize: cfg.BreachSendBatch, Rate: cfg.BreachSendRate,
		Concurrency: cfg.BreachSendParallel, MaxAttempts: cfg.BreachSendMaxAttempts, RetryBase: cfg.BreachSendRetryBase,
		Keep: cfg.BreachRecipientsKeep, MaxCount: cfg.BreachRecipientsMax, MaxBytes: cfg.BreachRecipientsMaxBytes, From: cfg.MailFrom},
		breachsend.Deps{Store: ad.breachStore, Notices: ad.notices, Publisher: ad.publisher, Mailer: m,
			Audit: func(ctx context.Context, e *privacy.AuditEvent) error { return store.AppendAudit(ctx, e) },
			Key:   derive(a.secrets.Root, "breachsend"), Now: ad.now, NewID: func() string { return randomHex(8) },
			Step: a.crashPoint(), Logger: a.log})
}

// breachCampaigns is what the breachsend function runs on: the fan-out, or,
// without one, a stand-in that leaves every message to be redelivered.
func breachCampaigns(s *breachsend.Service) breachsendfn.Campaigns {
	if s == nil {
		return unavailableCampaigns{}
	}
	return s
}

type unavailableCampaigns struct{}

var errNoBreachStore = errors.New("breach notification is not available on this store backend")

func (unavailableCampaigns) Plan(context.Context, string, breachsend.Work) error {
	return errNoBreachStore
}
func (unavailableCampaigns) Deliver(context.Context, string, breachsend.Work) error {
	return errNoBreachStore
}
func (unavailableCampaigns) Purge(context.Context, string, string) (int, error) {
	return 0, errNoBreachStore
}

// purgeBreachLists is the deadline watch's purge of expired recipient lists,
// nil without the fan-out.
func (a *app) purgeBreachLists() func(ctx context.Context, limit int) (int, error) {
	if a.breachSend == nil {
		return nil
	}
	return a.breachSend.Watch
}

// breachNotices adapts the breach flow to the fan-out's NoticeSource: the
// tenant's notice of an incident, its texts and the tenant's approval.
type breachNotices struct{ s *breach.Service }

func (b breachNotices) SubjectNotice(ctx context.Context, tenantID, incidentID string) (breachsend.Notice, error) {
	n, err := b.s.SubjectNotice(ctx, tenantID, incidentID)
	if err != nil {
		return breachsend.Notice{}, err
	}
	return breachsend.Notice(n), nil
}
