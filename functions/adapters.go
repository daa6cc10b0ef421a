package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/builtin"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/cosmos"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/servicebus"
	"github.com/privops/privops/shared/sqs"
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
	ccfg := cosmos.Config{Endpoint: cfg.CosmosEndpoint, Database: cfg.CosmosDatabase, Auth: cfg.CosmosAuth, Key: cfg.CosmosKey}
	if cfg.CosmosAuth == cosmos.AuthIdentity {
		cred, err := a.azure.get()
		if err != nil {
			return nil, fmt.Errorf("STORE_BACKEND=cosmos: identity credential: %w", err)
		}
		ccfg.Credential = cred
	}
	s, err := cosmos.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("STORE_BACKEND=cosmos: %w", err)
	}
	a.cosmos = s
	return s, nil
}

// openPublisher returns the sending side of the queue QUEUE_BACKEND names:
// the embedded queue, Service Bus (whose receiving side is the Functions
// host's serviceBusTrigger), or SQS (Lambda's event source mappings).
func (a *app) openPublisher() (privacy.Publisher, error) {
	cfg := a.cfg
	switch cfg.QueueBackend {
	case "sqs":
		// Region and credentials come from the Lambda environment.
		p, err := sqs.New(context.Background(), sqs.Options{})
		if err != nil {
			return nil, fmt.Errorf("QUEUE_BACKEND=sqs: %w", err)
		}
		return p, nil
	case "servicebus":
	default:
		return a.db.Queue(), nil
	}
	var client *azservicebus.Client
	var err error
	if cfg.ServiceBusConnectionString != "" {
		client, err = servicebus.NewClient(cfg.ServiceBusConnectionString)
	} else {
		var cred azcore.TokenCredential
		if cred, err = a.azure.get(); err == nil {
			client, err = servicebus.NewClientWithCredential(cfg.ServiceBusNamespace, cred)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("QUEUE_BACKEND=servicebus: %w", err)
	}
	p := servicebus.New(client)
	a.sb = client
	a.closers = append(a.closers, func() { _ = p.Close(context.Background()); _ = client.Close(context.Background()) })
	return p, nil
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
	var b *blob.Azure
	var err error
	if cfg.BlobConnectionString != "" {
		b, err = blob.NewAzureFromConnectionString(cfg.BlobConnectionString, cfg.BlobContainer, nil)
	} else {
		var cred azcore.TokenCredential
		if cred, err = a.azure.get(); err == nil {
			b, err = blob.NewAzureWithCredential(cfg.BlobAccountURL, cfg.BlobContainer, cred, nil)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("BLOB_BACKEND=azure: %w", err)
	}
	if err := b.EnsureContainer(ctx); err != nil {
		return nil, fmt.Errorf("BLOB_BACKEND=azure: %w", err)
	}
	return b, nil
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
