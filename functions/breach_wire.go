package main

import (
	"context"
	"strings"

	"github.com/privops/privops/functions/breachack"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// newBreach builds the breach flow on the store's breach adapter (SQLite,
// Cosmos DB and the in-memory store have one). Acknowledgement links are
// signed with a key derived from the root secret; notices go out through
// the suite's mailer and, for tenants with a breach webhook, the signed
// webhook notifier.
func (a *app) newBreach(ad adapters, publicURL string) error {
	bs, ok := ad.store.(breach.Store)
	if !ok {
		return nil
	}
	var err error
	a.breach, err = breach.New(breach.Config{PublicURL: strings.TrimRight(publicURL, "/"), AckKey: derive(a.secrets.Root, "breach-ack"),
		OutboxLease: a.cfg.OutboxLease},
		breach.Deps{Store: bs, Tenants: ad.store, Audit: ad.store, Mailer: ad.mailer,
			Hook: webhook.NewNotifier(a.cfg.WebhookTimeout, ad.now), Now: ad.now, NewID: func() string { return randomHex(8) },
			Logger: a.log, Step: a.crashPoint()})
	return err
}

// breachAck returns the acknowledgement-link function; without a breach
// adapter its links verify nothing (every one is 403).
func (a *app) breachAck() *breachack.Ack {
	if a.breach == nil {
		return breachack.New(noBreach{})
	}
	return breachack.New(a.breach)
}

// noBreach refuses every acknowledgement link.
type noBreach struct{}

func (noBreach) CheckAckLink(string, string, int, string) error {
	return privacy.Errorf(privacy.KindForbidden, "bad-ack-link", "the acknowledgement link is not valid")
}

func (noBreach) AcknowledgeByLink(context.Context, string, string, int, string) (*breach.Notice, error) {
	return nil, noBreach{}.CheckAckLink("", "", 0, "")
}
