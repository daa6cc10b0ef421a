package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/builtin"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// openVerifier returns the bearer-token verifier AUTH_MODE names, reading the
// tenant and roles from the claims AUTH_TENANT_CLAIM and AUTH_ROLES_CLAIM name.
func (a *app) openVerifier() (auth.Verifier, error) {
	cfg := a.cfg
	m := claimMapping(cfg)
	if cfg.AuthMode != "jwks" {
		v, err := auth.NewHS256(a.secrets.DevJWT, cfg.AuthIssuer, cfg.AuthAudience, time.Now)
		if err != nil {
			return nil, fmt.Errorf("AUTH_MODE: %w", err)
		}
		return v.WithMapping(m), nil
	}
	v, err := auth.NewJWKS(cfg.AuthJWKSURL, cfg.AuthIssuer, cfg.AuthAudience, &http.Client{Timeout: 10 * time.Second}, time.Now)
	if err != nil {
		return nil, fmt.Errorf("AUTH_JWKS_URL: %w", err)
	}
	a.closers = append(a.closers, v.Close)
	return v.WithMapping(m), nil
}

// claimMapping is the token claims AUTH_TENANT_CLAIM and AUTH_ROLES_CLAIM name,
// and AUTH_OPERATOR_TENANT: the verifier reads them, and dev tokens are minted
// with them.
func claimMapping(cfg *config.Config) auth.Mapping {
	return auth.Mapping{TenantClaim: cfg.AuthTenantClaim, RolesClaim: cfg.AuthRolesClaim, OperatorTenant: cfg.AuthOperatorTenant}
}

// openStore returns the store STORE_BACKEND names: the embedded SQLite store,
// or Cosmos DB (no network call until the first operation).
func (a *app) openStore() (privacy.Store, error) {
	cfg := a.cfg
	if cfg.StoreBackend != "cosmos" {
		return a.db.Store(), nil
	}
	return a.openCosmos()
}

// openPublisher returns the sending side of the queue QUEUE_BACKEND names:
// the embedded queue, Service Bus (whose receiving side is the Functions
// host's serviceBusTrigger), or SQS (Lambda's event source mappings).
func (a *app) openPublisher() (privacy.Publisher, error) {
	cfg := a.cfg
	switch cfg.QueueBackend {
	case "sqs":
		return openSQS(context.Background())
	case "servicebus":
		return a.openServiceBus()
	}
	return a.db.Queue(), nil
}

// openBlobs returns the blob store BLOB_BACKEND names: a local folder, or an
// Azure Blob container (created if absent).
func (a *app) openBlobs(ctx context.Context) (privacy.Blobs, error) {
	cfg := a.cfg
	if cfg.BlobBackend != "azure" {
		b, err := blob.NewLocal(cfg.BlobDir)
		if err != nil {
			return nil, fmt.Errorf("BLOB_DIR: %w", err)
		}
		return b, nil
	}
	return a.openAzureBlobs(ctx)
}

// adapters are the ports' implementations the functions are wired to.
type adapters struct {
	store     privacy.Store
	publisher privacy.Publisher
	mailer    privacy.Mailer
	verifier  auth.Verifier
	blobs     privacy.Blobs
	// connectors overrides the connectors (tests); nil builds the real ones.
	connectors map[privacy.ConnectorKind]privacy.Connector
	now        func() time.Time
	// breachMailer is the breach lane's own mailer (nil: mailer); breachStore
	// its campaigns and ledger (nil: the fan-out is not available);
	// notices the incidents' subject notices (nil: every incident unknown,
	// until the breach service is adapted to it here).
	breachMailer privacy.Mailer
	breachStore  breachsend.Store
	notices      breachsend.NoticeSource
}

// inboundLog returns the store's inbound log; every store adapter has one.
func inboundLog(s privacy.Store) privacy.InboundLog {
	l, _ := s.(privacy.InboundLog)
	return l
}

// connectors builds one connector per kind on the given adapters.
func (a *app) connectors(ad adapters) map[privacy.ConnectorKind]privacy.Connector {
	if ad.connectors != nil {
		return ad.connectors
	}
	store := ad.store
	cs := map[privacy.ConnectorKind]privacy.Connector{
		// The task worker passes the tenant's AllowPrivateConnectors with each
		// call, so the connector needs no store of its own.
		privacy.KindWebhook:    webhook.New(webhook.Options{Timeout: a.cfg.WebhookTimeout, MaxExportBytes: a.cfg.MaxExportBytes, Now: ad.now}),
		privacy.KindServiceBus: builtin.Queue{Publisher: ad.publisher, Now: ad.now},
		privacy.KindManual:     builtin.Manual{},
	}
	if items, ok := store.(privacy.DataItems); ok {
		cs[privacy.KindCosmos] = builtin.Container{Items: items}
	}
	return cs
}
