package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/privops/privops/functions/admin"
	"github.com/privops/privops/functions/breachack"
	breachsendfn "github.com/privops/privops/functions/breachsend"
	"github.com/privops/privops/functions/callback"
	"github.com/privops/privops/functions/center"
	"github.com/privops/privops/functions/certificates"
	"github.com/privops/privops/functions/console"
	"github.com/privops/privops/functions/deadlinewatch"
	"github.com/privops/privops/functions/inbound"
	"github.com/privops/privops/functions/notice"
	"github.com/privops/privops/functions/notify"
	"github.com/privops/privops/functions/openapi"
	"github.com/privops/privops/functions/operator"
	"github.com/privops/privops/functions/outbox"
	"github.com/privops/privops/functions/portal"
	retentiontimer "github.com/privops/privops/functions/retention"
	"github.com/privops/privops/functions/retentionjob"
	"github.com/privops/privops/functions/tasks"
	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/azfunc"
	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/builtin"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/cosmos"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/mail"
	"github.com/privops/privops/shared/ncrontab"
	"github.com/privops/privops/shared/offboard"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/servicebus"
	"github.com/privops/privops/shared/sqlite"
	"github.com/privops/privops/shared/sqs"
	"github.com/privops/privops/shared/standalone"
	"github.com/privops/privops/shared/telemetry"
	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/ui"
	"github.com/privops/privops/shared/web"
	"github.com/privops/privops/shared/webhook"
)

// app is the wired suite: adapters, service and functions.
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	secrets config.Secrets
	db      *sqlite.DB    // the built-in queue, and the store unless STORE_BACKEND=cosmos
	cosmos  *cosmos.Store // the store when STORE_BACKEND=cosmos
	svc     *dsr.Service
	funcs   []trigger.Function
	specs   []funcjson.Spec
	portal  *portal.Portal
	admin   *admin.Admin
	oper    *operator.Operator
	inbound *inbound.Processor
	sweeper *retention.Sweeper // the retention sweep (admin previews, the retention job)
	breach  *breach.Service    // the breach flow; nil when the store has no breach adapter
	// breachSend is the data-subject fan-out of breach notices; nil when the
	// store has no breachsend adapter (a test's app without a store).
	breachSend *breachsend.Service
	// offboarder carries out offboardings (the deadline watch, the operator API).
	offboarder *offboard.Offboarder
	store      privacy.Store
	sb         *azservicebus.Client // when QUEUE_BACKEND=servicebus
	closers    []func()
	// azure is the one Entra ID credential the Azure adapters share.
	azure azureCredential
	// tel instruments the functions; nil (off) unless
	// OTEL_EXPORTER_OTLP_ENDPOINT is set.
	tel *telemetry.Telemetry
}

func (a *app) Close() {
	for _, c := range a.closers {
		c()
	}
	if a.cosmos != nil {
		a.cosmos.Close()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
}

// derive returns a purpose-bound key from the root secret.
func derive(root []byte, purpose string) []byte {
	m := hmac.New(sha256.New, root)
	m.Write([]byte("privops/" + purpose))
	return m.Sum(nil)
}

// build opens the adapters and builds every function.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log}
	var err error
	if a.secrets, err = cfg.LoadSecrets(); err != nil {
		return nil, err
	}
	if a.tel, err = telemetry.Start(ctx, telemetry.Config{Endpoint: cfg.OTelEndpoint, ServiceName: cfg.OTelServiceName}); err != nil {
		return nil, err
	}
	if a.tel != nil {
		// Log lines inside a span name its trace_id and span_id.
		log = slog.New(a.tel.LogHandler(log.Handler()))
		a.log = log
		tel := a.tel
		a.closers = append(a.closers, func() {
			// Flush what is buffered; a collector that is down costs at most this.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tel.Shutdown(ctx); err != nil {
				log.Warn("telemetry shutdown", "error", err)
			}
		})
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	a.db, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "privops.db"), sqlite.Options{Synchronous: cfg.SQLiteSynchronous})
	if err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	store, err := a.openStore()
	if err != nil {
		a.Close()
		return nil, err
	}
	a.store = store
	publisher, err := a.openPublisher()
	if err != nil {
		a.Close()
		return nil, err
	}
	blobs, err := a.openBlobs(ctx)
	if err != nil {
		a.Close()
		return nil, err
	}

	var mailer privacy.Mailer
	switch cfg.MailBackend {
	case "smtp":
		mailer, err = mail.NewSMTP(mail.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword, From: cfg.MailFrom, TLS: cfg.SMTPTLS})
	default:
		mailer, err = mail.NewOutbox(cfg.MailOutboxDir, cfg.MailFrom, log)
	}
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("MAIL_BACKEND: %w", err)
	}

	breachMailer, err := a.openBreachMailer()
	if err != nil {
		a.Close()
		return nil, err
	}

	verifier, err := a.openVerifier()
	if err != nil {
		a.Close()
		return nil, err
	}
	if err := a.wire(adapters{store: store, publisher: publisher, mailer: mailer, verifier: verifier, blobs: blobs, now: time.Now,
		breachMailer: breachMailer, breachStore: a.breachStore(), notices: testNotices()}); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

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

// wire builds the service and every function on the given adapters, and checks
// them against the function.json files.
func (a *app) wire(ad adapters) error {
	cfg, log := a.cfg, a.log
	var err error
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + cfg.HTTPAddr
	}
	a.svc, err = dsr.New(dsr.Config{
		NoticesQueue: cfg.NoticesQueue, CodeTTL: cfg.CodeTTL, UnverifiedExpiry: cfg.UnverifiedExpiry, ClarificationWait: cfg.ClarificationWait, DigestHour: cfg.DeadlineDigestHour, MaxAttempts: cfg.CodeMaxAttempts,
		OutboxLease: cfg.OutboxLease, PortalBaseURL: cfg.PortalBaseURL, PublicURL: strings.TrimRight(publicURL, "/"),
		TasksQueue: cfg.TasksQueue, TaskLease: cfg.TaskLease, RetryBase: cfg.TaskRetryBase, RetryCap: cfg.TaskRetryCap,
		TaskMaxAttempts: cfg.TaskMaxAttempts, CallbackTimeout: cfg.TaskCallbackTimeout, DeferOutbox: cfg.OutboxDispatch == "changefeed",
		// The operator's own tenant-claim value marks operator tokens, so no
		// tenant may ever be onboarded under it.
		ReservedTenantIDs: slices.DeleteFunc([]string{cfg.AuthOperatorTenant}, func(s string) bool { return s == "" }),
		OffboardNotice:    cfg.OffboardNotice,
	}, dsr.Keys{Subject: derive(a.secrets.Root, "subject-hash"), Token: derive(a.secrets.Root, "request-token")},
		dsr.Deps{Store: ad.store, Publisher: ad.publisher, Mailer: ad.mailer, Blobs: ad.blobs, Connectors: a.connectors(ad),
			Now: ad.now, Logger: log, Step: a.crashPoint(), Inbound: inboundLog(ad.store),
			TaskSettled: a.taskSettled(), TraceContext: a.traceContext()})
	if err != nil {
		return err
	}
	if err := a.newBreach(ad, publicURL); err != nil {
		return err
	}
	var breachIntake inbound.Breach
	if a.breach != nil {
		breachIntake = a.breach
	}
	p := portal.New(portal.Config{MaxBody: cfg.PortalMaxBody, SubmitsPerIP: cfg.RateSubmitPerIP,
		SubmitsPerMail: cfg.RateSubmitPerEmail, VerifiesPerIP: cfg.RateVerifyPerIP, TrustForwarded: cfg.TrustForwardedFor},
		portal.Deps{Service: a.svc, Now: ad.now})
	sweeper, err := a.newSweeper(ad)
	if err != nil {
		return err
	}
	a.sweeper = sweeper
	// Service Bus services answer retention purge commands over the inbound queue.
	a.inbound = inbound.New(inbound.Config{Window: cfg.InboundWindow, KeepRejected: cfg.InboundKeepRejected},
		inbound.Deps{Service: a.svc, Breach: breachIntake, Retention: sweeper, Logger: log, Now: ad.now})
	retentionSchedule, err := ncrontab.Parse(cfg.RetentionSchedule)
	if err != nil {
		return fmt.Errorf("RETENTION_SCHEDULE: %w", err)
	}
	var incidents operator.Incidents
	var notices admin.Incidents
	var breachWatch deadlinewatch.Breach
	if a.breach != nil {
		incidents, notices, breachWatch = a.breach, a.breach, a.breach
		if ad.notices == nil {
			ad.notices = breachNotices{a.breach} // the subject notices come from the breach flow
		}
	}
	if a.breachSend, err = a.newBreachSend(ad); err != nil {
		return err
	}
	if a.offboarder, err = a.newOffboarder(ad); err != nil {
		return err
	}
	var campaigns admin.Campaigns // a nil *Service must stay a nil interface
	if a.breachSend != nil {
		campaigns = a.breachSend
	}
	adm := admin.New(admin.Config{MaxBody: cfg.AdminMaxBody}, admin.Deps{Service: a.svc, Verifier: ad.verifier, Retention: sweeper,
		Incidents: notices, Campaigns: campaigns})
	oper := operator.New(operator.Config{MaxBody: cfg.AdminMaxBody}, operator.Deps{Service: a.svc, Offboardings: a.offboarder,
		Verifier: ad.verifier, Incidents: incidents, Campaigns: campaigns, Requests: a.svc, Inbound: a.svc, Notices: notices, Now: ad.now})
	a.portal, a.admin, a.oper = p, adm, oper
	pc, err := center.New(center.Deps{Tenants: a.svc})
	if err != nil {
		return err
	}
	cons, err := console.New(console.Config{TenantClaim: cfg.AuthTenantClaim, RolesClaim: cfg.AuthRolesClaim,
		OIDC: console.OIDC{Issuer: strings.TrimRight(cfg.ConsoleOIDCIssuer, "/"), ClientID: cfg.ConsoleOIDCClientID, Scope: cfg.ConsoleOIDCScope}})
	if err != nil {
		return err
	}
	a.funcs = []trigger.Function{
		{Name: "portal", HTTP: web.Logged("portal", log, p.Handler())},
		{Name: "admin", HTTP: web.Logged("admin", log, adm.Handler())},
		{Name: "openapi", HTTP: web.Logged("openapi", log, openapi.Handler())},
		{Name: "center", HTTP: web.Logged("center", log, pc.Handler())},
		{Name: "console", HTTP: web.Logged("console", log, cons.Handler())},
		{Name: "operator", HTTP: web.Logged("operator", log, oper.Handler())},
		{Name: "breachack", HTTP: web.Logged("breachack", log, a.breachAck().Handler())},
		{Name: "certificates", HTTP: web.Logged("certificates", log, certificates.New(a.svc.CertificateKey()).Handler())},
		{Name: "notify", Queue: notify.New(notify.Deps{Service: a.svc, Logger: log})},
		{Name: "tasks", Queue: tasks.New(tasks.Deps{Service: a.svc, Logger: log})},
		{Name: "inbound", Queue: a.inbound.Queue()},
		{Name: "callback", HTTP: web.Logged("callback", log, callback.New(callback.Config{MaxExportBytes: cfg.MaxExportBytes},
			callback.Deps{Service: a.svc, Blobs: ad.blobs, Now: ad.now}).Handler())},
		{Name: "outbox", Documents: outbox.New(outbox.Deps{Service: a.svc, Logger: log})},
		{Name: "deadlinewatch", Timer: deadlinewatch.New(deadlinewatch.Config{Warn: 7 * 24 * time.Hour, Limit: 500, PerTenant: time.Minute,
			RetentionSchedule: retentionSchedule, RetentionGrace: time.Hour, OffboardTimeout: 5 * time.Minute},
			deadlinewatch.Deps{Service: a.svc, Tenants: ad.store, Offboarder: a.offboarder, Logger: log, Counts: a.deadlineCounts(), Now: ad.now,
				Breach: breachWatch, PurgeBreachLists: a.purgeBreachLists()})},
		{Name: "retention", Timer: retentiontimer.New(retentiontimer.Config{Queue: cfg.RetentionQueue, DeadLetters: deadLetterConfig(cfg)},
			retentiontimer.Deps{Tenants: ad.store, Publisher: ad.publisher, Lease: timerLease(ad.store), DeadLetters: a.deadLetters(ad), Now: ad.now, Logger: log})},
		{Name: "retentionjob", Queue: bulkQueue(retentionjob.New(retentionjob.Config{Queue: cfg.RetentionQueue, Budget: cfg.RetentionBudget},
			retentionjob.Deps{Sweeper: sweeper, Publisher: ad.publisher, Logger: log}))},
		{Name: "breachsend", Queue: breachsendfn.New(breachsendfn.Deps{Campaigns: breachCampaigns(a.breachSend), Logger: log})},
		{Name: "notice", HTTP: web.Logged("notice", log, notice.New(notice.Deps{Notices: campaigns}).Handler())},
	}
	a.funcs = a.tel.Wrap(a.funcs) // unchanged when telemetry is off
	if a.specs, err = funcjson.Load(functionFiles, cfg.Setting); err != nil {
		return err
	}
	_, err = funcjson.Pair(a.funcs, a.specs)
	return err
}

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

// newSweeper builds the retention sweep on the store: its tenant documents carry
// the policies, holds and run state; its built-in data containers are swept
// where the store can page them by age (SQLite and Cosmos DB; the in-memory
// test store cannot, and its policies are reported failed with that reason).
func (a *app) newSweeper(ad adapters) (*retention.Sweeper, error) {
	items, _ := ad.store.(retention.Items)
	hasher := privacy.SubjectHasher{Key: derive(a.secrets.Root, "subject-hash")}
	// Services are purged through their connector's purge action (webhook;
	// Service Bus: a command to the service's queue, answered later).
	purgers := map[privacy.ConnectorKind]privacy.Purger{}
	for kind, c := range a.connectors(ad) {
		if p, ok := c.(privacy.Purger); ok {
			purgers[kind] = p
		}
	}
	return retention.NewSweeper(retention.Config{PageSize: a.cfg.RetentionPageSize, Lease: a.cfg.RetentionLease,
		PagePause: time.Duration(a.cfg.RetentionPagePauseMS) * time.Millisecond, AnswerWait: a.cfg.RetentionServiceAnswerWait},
		retention.Deps{Tenants: ad.store, Items: items, Requests: ad.store, Blobs: ad.blobs, Inbound: inboundLog(ad.store), Breach: breachRecords(ad), Purgers: purgers, HeldEmail: a.svc.OpenHoldEmail, Audit: ad.store.AppendAudit, Hash: hasher.Hash, Flush: a.svc.FlushTenant, Now: ad.now,
			NewID: func() string { return "run_" + randomHex(8) }, Step: a.crashPoint(), Logger: a.log})
}

// newOffboarder builds the offboarding work on the store (which purges a
// tenant's documents kind by kind) and, when the queue is the built-in one,
// on the queue (which purges the tenant's messages); Service Bus keeps no
// message bodies of tenants to purge (messages carry ids only).
func (a *app) newOffboarder(ad adapters) (*offboard.Offboarder, error) {
	data, ok := ad.store.(offboard.Data)
	if !ok {
		return nil, fmt.Errorf("the store %T cannot purge a tenant (offboarding)", ad.store)
	}
	msgs, _ := ad.publisher.(offboard.Messages)
	inbound, _ := ad.store.(offboard.Inbound)
	// The data-subject fan-out's records and campaigns (the embedded store
	// only), and the breach notices for the return package.
	subjects, _ := ad.breachStore.(offboard.Subjects)
	var campaigns offboard.Campaigns // a nil *Service must stay a nil interface
	if a.breachSend != nil {
		campaigns = a.breachSend
	}
	var notices func(ctx context.Context, tenantID string, emit func(any) error) error
	if b := a.breach; b != nil {
		// As the tenant's admins read them: the notice with its clocks.
		notices = func(ctx context.Context, tenantID string, emit func(any) error) error {
			cursor := ""
			for {
				page, err := b.Notices(ctx, tenantID, cursor, 200)
				if err != nil {
					return err
				}
				for _, n := range page.Notices {
					clocks, err := b.Clocks(ctx, n)
					if err != nil {
						return err
					}
					if err := emit(breach.NoticeViewOf(n, clocks)); err != nil {
						return err
					}
				}
				if page.Next == "" {
					return nil
				}
				cursor = page.Next
			}
		}
	}
	return offboard.New(offboard.Config{PageSize: a.cfg.OffboardPageSize}, offboard.Deps{Store: ad.store, Inbound: inbound, Data: data, Messages: msgs, Blobs: ad.blobs,
		Subjects: subjects, Campaigns: campaigns, Notices: notices,
		Flush: a.svc.FlushTenant, Seal: a.svc.SealCertificate, Open: a.svc.OpenCertificate,
		Link: a.svc.OffboardingLink, CheckLink: a.svc.CheckOffboardingLink,
		NewID: func() string { return "aud_" + randomHex(16) }, Now: ad.now, Step: a.crashPoint(), Logger: a.log})
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// crashPoint returns the step hook. With PRIVOPS_CRASHPOINT=name[@n] the
// standalone process SIGKILLs itself the n-th time (default first) it passes
// step name: the crash tests use it to stop between two durable steps.
func (a *app) crashPoint() func(string) {
	spec := a.cfg.CrashPoint
	if spec == "" || a.cfg.Azure() {
		return nil
	}
	name, nth := spec, int64(1)
	if n, c, ok := strings.Cut(spec, "@"); ok {
		name = n
		if v, err := strconv.ParseInt(c, 10, 64); err == nil && v > 0 {
			nth = v
		}
	}
	var seen atomic.Int64
	return func(step string) {
		if step == name && seen.Add(1) == nth {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}

func (a *app) serveAzure(ctx context.Context) error {
	h, err := azfunc.New(a.funcs, a.specs, a.log)
	if err != nil {
		return err
	}
	addr, err := azfunc.ListenAddr(os.LookupEnv)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	a.log.Info("custom handler listening", "addr", addr, "functions", len(a.funcs))
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	go releaseStartup()
	select {
	case err := <-errc:
		return fmt.Errorf("custom handler: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

func (a *app) serveStandalone(ctx context.Context) error {
	if a.cfg.QueueBackend == "servicebus" {
		// Only `privops replay` may run standalone against Service Bus.
		return errors.New("QUEUE_BACKEND: servicebus is received by the Functions host; standalone uses the built-in queue (sqlite)")
	}
	if a.cfg.PprofAddr != "" {
		pl, err := net.Listen("tcp", a.cfg.PprofAddr)
		if err != nil {
			return fmt.Errorf("PPROF_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go func() { _ = http.Serve(pl, mux) }()
		a.log.Info("pprof listening", "addr", pl.Addr().String())
	}
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	a.log.Info("standalone suite listening", "addr", ln.Addr().String(), "data_dir", a.cfg.DataDir, "functions", len(a.funcs))
	demo := ""
	if a.cfg.DemoTenant {
		demo = demoTenant().ID
	}
	h := &standalone.Host{Listener: ln, Functions: a.funcs, Specs: a.specs, Receiver: a.db.Queue(),
		Lease: a.cfg.QueueLease, Workers: a.cfg.QueueWorkers, Logger: a.log, Index: ui.Index(demo)}
	// /readyz pings the store (SQLite, or Cosmos DB when STORE_BACKEND=cosmos).
	if p, ok := a.store.(interface{ Ping(context.Context) error }); ok {
		h.Ready = p.Ping
	}
	// The code mail spool (with the embedded store): portal submissions are
	// answered once their request and code mail are committed, and the mail
	// is sent after the answer. It stops before the store is closed.
	spoolCtx, stopSpool := context.WithCancel(ctx)
	spoolDone := make(chan struct{})
	go func() {
		defer close(spoolDone)
		a.svc.RunMailSpool(spoolCtx)
	}()
	defer func() {
		stopSpool()
		<-spoolDone
	}()
	go releaseStartup() // the listener accepts: start-up is over
	return h.Run(ctx)
}

// demoTenant is created on the first standalone start.
func demoTenant() *privacy.Tenant {
	return &privacy.Tenant{ID: "demo", Name: "Demo Tenant", Regimes: privacy.Regimes, Establishment: []string{privacy.RegimeEUGDPR},
		TimeZone: "UTC", PortalOrigins: []string{"http://localhost:3000"}, PIPLDays: 30, DefaultDays: 30, Contact: "privacy@demo.example"}
}

// demo creates the demo tenant on the first standalone start and prints a dev
// admin token. On Azure and Lambda it does nothing, whatever DEMO_TENANT says:
// a deployment holds only the tenants the operator creates (privops tenant
// create), and no tenant there is reachable with a dev token.
func (a *app) demo(ctx context.Context, w io.Writer) error {
	if !a.cfg.DemoTenant || a.cfg.Cloud() {
		return nil
	}
	created, err := a.svc.EnsureTenant(ctx, demoTenant())
	if err != nil || !created {
		return err
	}
	a.log.Info("demo tenant created", "tenant_id", "demo")
	if a.cfg.AuthMode != "dev" {
		return nil
	}
	tok, err := auth.MintWith(a.secrets.DevJWT, claimMapping(a.cfg), auth.Claims{Subject: "demo-admin", TenantID: "demo", Roles: []string{auth.RoleAdmin}},
		a.cfg.AuthIssuer, a.cfg.AuthAudience, time.Now(), 30*24*time.Hour)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nDemo tenant \"demo\" created. Dev admin token (30 days; mint more with `privops token`):\n\n%s\n\n", tok)
	return nil
}

// tokenCommand is `privops token`: it mints a dev tenant token (AUTH_MODE=dev),
// or with --operator a dev operator token (no tenant claim); unknown roles are
// refused. It signs with the key the server signs with, read from AUTH_DEV_KEY or the server's
// DATA_DIR/secrets.json. It never makes a key of its own: the server would
// refuse a token signed with it.
func tokenCommand(fs *flag.FlagSet) func(context.Context, *config.Config, io.Writer) error {
	tenant := fs.String("tenant", "demo", "tenant id of a tenant token (in the claim AUTH_TENANT_CLAIM names, default tid)")
	operator := fs.Bool("operator", false, "mint an operator token (no tenant claim) for the operator API")
	role := fs.String("role", "", "comma-separated roles; tenant tokens: "+strings.Join(auth.TenantRoles, ", ")+
		" (default "+auth.RoleAdmin+"); operator tokens: "+strings.Join(auth.OperatorRoles, ", ")+" (default "+auth.RoleOperatorAdmin+")")
	sub := fs.String("sub", "dev-admin", "the caller's name (the sub claim)")
	ttl := fs.Duration("ttl", 8*time.Hour, "lifetime")
	return func(_ context.Context, cfg *config.Config, w io.Writer) error {
		claims := auth.Claims{Subject: *sub, TenantID: *tenant}
		if !*operator && cfg.AuthOperatorTenant != "" && *tenant == cfg.AuthOperatorTenant {
			// It would be an operator token with a tenant role: allowed nothing anywhere.
			return fmt.Errorf("token: %q is AUTH_OPERATOR_TENANT, the operator's own value, not a tenant; use --operator", *tenant)
		}
		if *operator {
			claims = auth.Claims{Subject: *sub, Operator: true}
		}
		roles := *role
		if roles == "" {
			roles = auth.RoleAdmin
			if *operator {
				roles = auth.RoleOperatorAdmin
			}
		}
		for _, r := range strings.Split(roles, ",") {
			if !auth.KnownRole(r, *operator) {
				kind, known := "tenant", auth.TenantRoles
				if *operator {
					kind, known = "operator", auth.OperatorRoles
				}
				return fmt.Errorf("token: %q is not a %s role (one of %s)", r, kind, strings.Join(known, ", "))
			}
			claims.Roles = append(claims.Roles, r)
		}
		if cfg.AuthMode != "dev" {
			return errors.New("token: only for AUTH_MODE=dev; production tokens come from your identity provider")
		}
		key, err := cfg.DevKey()
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		tok, err := auth.MintWith(key, claimMapping(cfg), claims, cfg.AuthIssuer, cfg.AuthAudience, time.Now(), *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, tok)
		return nil
	}
}

// bulkQueue marks each invocation of fn as bulk background work
// (privacy.Bulk): the embedded store runs its writes after the portal's, so
// a retention sweep does not hold up submissions (issue 12 item 7).
func bulkQueue(fn trigger.QueueFunc) trigger.QueueFunc {
	return func(ctx context.Context, m trigger.Message) error { return fn(privacy.Bulk(ctx), m) }
}
