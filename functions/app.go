package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/privops/privops/functions/admin"
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
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/mail"
	"github.com/privops/privops/shared/ncrontab"
	"github.com/privops/privops/shared/offboard"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/sqlite"
	"github.com/privops/privops/shared/telemetry"
	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

// app is the wired suite: adapters, service and functions.
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	secrets config.Secrets
	db      *sqlite.DB // the built-in queue, and the store unless STORE_BACKEND=cosmos
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
	closers    []func()
	// cosmosState and azureState are what the Cosmos DB and other Azure
	// adapters opened (cosmos.go, azure.go); empty in a build without them
	// (build.go).
	cosmosState
	azureState
	// tel instruments the functions; nil (off) unless
	// OTEL_EXPORTER_OTLP_ENDPOINT is set.
	tel *telemetry.Telemetry
}

func (a *app) Close() {
	for _, c := range a.closers {
		c()
	}
	a.closeCosmos()
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
	if err := checkBuild(cfg); err != nil {
		return nil, err // a build made for another host (README, Builds)
	}
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
	// The embedded SQLite file holds the store, the built-in queue or both;
	// a deployment on Cosmos DB with Service Bus or SQS opens no file and
	// runs no migration at start (issue 16: nothing a host does not use is
	// initialised).
	// The file opens (connection, migrations, statements) while the functions
	// are wired, which do not use it until they run; build waits for it below.
	if cfg.StoreBackend != "cosmos" || cfg.QueueBackend == "sqlite" {
		a.db = sqlite.Start(ctx, filepath.Join(cfg.DataDir, "privops.db"), sqlite.Options{Synchronous: cfg.SQLiteSynchronous})
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
	if a.db != nil {
		if err := a.db.Ready(); err != nil {
			a.Close()
			return nil, fmt.Errorf("open embedded store: %w", err)
		}
	}
	return a, nil
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
	// Each HTTP function builds its routes (and the console's and the privacy
	// center's pages) on its first request, not at start (web.Lazy).
	a.funcs = []trigger.Function{
		{Name: "portal", HTTP: web.Logged("portal", log, web.Lazy(p.Handler))},
		{Name: "admin", HTTP: web.Logged("admin", log, web.Lazy(adm.Handler))},
		{Name: "openapi", HTTP: web.Logged("openapi", log, web.Lazy(openapi.Handler))},
		{Name: "center", HTTP: web.Logged("center", log, web.Lazy(pc.Handler))},
		{Name: "console", HTTP: web.Logged("console", log, web.Lazy(cons.Handler))},
		{Name: "operator", HTTP: web.Logged("operator", log, web.Lazy(oper.Handler))},
		{Name: "breachack", HTTP: web.Logged("breachack", log, web.Lazy(a.breachAck().Handler))},
		{Name: "certificates", HTTP: web.Logged("certificates", log, web.Lazy(certificates.New(a.svc.CertificateKey).Handler))},
		{Name: "notify", Queue: notify.New(notify.Deps{Service: a.svc, Logger: log})},
		{Name: "tasks", Queue: tasks.New(tasks.Deps{Service: a.svc, Logger: log})},
		{Name: "inbound", Queue: a.inbound.Queue()},
		{Name: "callback", HTTP: web.Logged("callback", log, web.Lazy(callback.New(callback.Config{MaxExportBytes: cfg.MaxExportBytes},
			callback.Deps{Service: a.svc, Blobs: ad.blobs, Now: ad.now}).Handler))},
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
		{Name: "notice", HTTP: web.Logged("notice", log, web.Lazy(notice.New(notice.Deps{Notices: campaigns}).Handler))},
	}
	a.funcs = a.tel.Wrap(a.funcs) // unchanged when telemetry is off
	if a.specs, err = funcjson.Load(functionFiles, cfg.Setting); err != nil {
		return err
	}
	_, err = funcjson.Pair(a.funcs, a.specs)
	return err
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
