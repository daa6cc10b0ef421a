// Package config reads the suite's settings from the environment (app settings
// on Azure, local.settings.json for `func start`, plain variables standalone),
// applies defaults and checks the privacy-critical floors. Secrets are never
// printed: LogValue redacts them.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/privops/privops/shared/ncrontab"
)

// Config is every setting the binary reads. Each one is listed in
// local.settings.sample.json and the README.
type Config struct {
	// Host selection: "azure" when FUNCTIONS_CUSTOMHANDLER_PORT is set, else standalone.
	FunctionsPort string `envconfig:"FUNCTIONS_CUSTOMHANDLER_PORT"`
	// Host selection: "lambda" when the Lambda runtime API is set (AWS sets it).
	LambdaRuntimeAPI string `envconfig:"AWS_LAMBDA_RUNTIME_API"`
	HTTPAddr         string `envconfig:"HTTP_ADDR" default:"127.0.0.1:7071"`
	DataDir          string `envconfig:"DATA_DIR" default:"data"`

	StoreBackend string `envconfig:"STORE_BACKEND" default:"sqlite"`
	QueueBackend string `envconfig:"QUEUE_BACKEND" default:"sqlite"`
	// Cosmos DB store (STORE_BACKEND=cosmos): the account endpoint, the
	// database, and how to authenticate: "identity" (Entra ID: the managed
	// identity on Azure, DefaultAzureCredential elsewhere) or "key" (COSMOS_KEY).
	CosmosEndpoint    string        `envconfig:"COSMOS_ENDPOINT"`
	CosmosDatabase    string        `envconfig:"COSMOS_DATABASE" default:"privops"`
	CosmosAuth        string        `envconfig:"COSMOS_AUTH" default:"identity"`
	CosmosKey         string        `envconfig:"COSMOS_KEY" secret:"true"`
	SQLiteSynchronous string        `envconfig:"SQLITE_SYNCHRONOUS" default:"full"`
	QueueLease        time.Duration `envconfig:"QUEUE_LEASE" default:"1m"`
	// ServiceBusConnectionString (key auth) or ServiceBusNamespace (managed
	// identity) name the namespace when QUEUE_BACKEND=servicebus.
	ServiceBusConnectionString string `envconfig:"SERVICEBUS_CONNECTION_STRING" secret:"true"`
	ServiceBusNamespace        string `envconfig:"SERVICEBUS_NAMESPACE"`
	QueueWorkers               int    `envconfig:"QUEUE_WORKERS" default:"4"`

	MailBackend   string `envconfig:"MAIL_BACKEND" default:"outbox"`
	MailFrom      string `envconfig:"MAIL_FROM" default:"privacy@privops.local"`
	MailOutboxDir string `envconfig:"MAIL_OUTBOX_DIR"`
	SMTPHost      string `envconfig:"SMTP_HOST"`
	SMTPPort      int    `envconfig:"SMTP_PORT" default:"587"`
	SMTPUsername  string `envconfig:"SMTP_USERNAME"`
	SMTPPassword  string `envconfig:"SMTP_PASSWORD" secret:"true"`
	SMTPTLS       string `envconfig:"SMTP_TLS" default:"mandatory"`

	AuthMode     string `envconfig:"AUTH_MODE" default:"dev"`
	AuthDevKey   string `envconfig:"AUTH_DEV_KEY" secret:"true"`
	AuthJWKSURL  string `envconfig:"AUTH_JWKS_URL"`
	AuthIssuer   string `envconfig:"AUTH_ISSUER" default:"privops-dev"`
	AuthAudience string `envconfig:"AUTH_AUDIENCE" default:"privops"`
	// AuthTenantClaim and AuthRolesClaim name the claims of the access token
	// that carry the privops tenant and the roles (Microsoft Entra ID: "tid"
	// is the directory, so several privops tenants in one directory need a
	// claim of their own, e.g. a directory extension, "extn.privopsTenant";
	// app roles arrive in "roles"). AuthOperatorTenant, when set, is the
	// tenant-claim value that marks the operator's own staff: such a token is
	// an operator token, never a tenant's, so no privops tenant may have that
	// id (infra/README.md, "Identity").
	AuthTenantClaim    string `envconfig:"AUTH_TENANT_CLAIM" default:"tid"`
	AuthRolesClaim     string `envconfig:"AUTH_ROLES_CLAIM" default:"roles"`
	AuthOperatorTenant string `envconfig:"AUTH_OPERATOR_TENANT"`

	// SecretKey is the root secret (base64, at least 32 bytes) from which the
	// subject-hash and token keys are derived. It must never change once the
	// audit refers to subjects by its hash.
	SecretKey string `envconfig:"SECRET_KEY" secret:"true"`

	NoticesQueue string `envconfig:"NOTICES_QUEUE" default:"privops-notices"`
	TasksQueue   string `envconfig:"TASKS_QUEUE" default:"privops-tasks"`
	// InboundQueue receives signed messages from tenants' own systems.
	InboundQueue          string        `envconfig:"INBOUND_QUEUE" default:"privops-inbound"`
	InboundWindow         time.Duration `envconfig:"INBOUND_WINDOW" default:"5m"`
	InboundKeepRejected   time.Duration `envconfig:"INBOUND_KEEP_REJECTED" default:"336h"`
	DeadlineWatchSchedule string        `envconfig:"DEADLINE_WATCH_SCHEDULE" default:"0 5 * * * *"`
	// RetentionSchedule is the NCRONTAB of the retention timer (nightly, 02:00 UTC).
	RetentionSchedule string `envconfig:"RETENTION_SCHEDULE" default:"0 0 2 * * *"`
	// RetentionQueue receives one job per tenant and occurrence; a job that
	// runs out of budget enqueues itself again.
	RetentionQueue string `envconfig:"RETENTION_QUEUE" default:"privops-retention"`
	// DeadLetterKeep is how long a dead-lettered message's body is kept (the
	// built-in queue's dead-letter rows, Service Bus dead-letter queues): the
	// nightly retention timer removes older ones (1 day to 90 days).
	DeadLetterKeep time.Duration `envconfig:"DEADLETTER_KEEP" default:"336h"`
	// RetentionBudget bounds one job invocation (checked between pages), so
	// one large tenant cannot starve the others; RetentionLease is how long
	// a run stays its invocation's without a checkpoint (after a crash, the
	// next invocation takes it over once it has run out).
	RetentionBudget   time.Duration `envconfig:"RETENTION_BUDGET" default:"2m"`
	RetentionLease    time.Duration `envconfig:"RETENTION_LEASE" default:"5m"`
	RetentionPageSize int           `envconfig:"RETENTION_PAGE_SIZE" default:"500"`
	// RetentionPagePauseMS is a pause after each page of a sweep, in
	// milliseconds, which leaves the embedded store's one writer to the
	// portal between pages (0: none).
	RetentionPagePauseMS int `envconfig:"RETENTION_PAGE_PAUSE_MS" default:"0"`
	// RetentionServiceAnswerWait is how long a run waits for a Service Bus
	// service's answer to a purge command before it reports the policy
	// no-answer (a failed policy).
	RetentionServiceAnswerWait time.Duration `envconfig:"RETENTION_SERVICE_ANSWER_WAIT" default:"6h"`
	// OffboardNotice is the wait between an operator's offboarding request
	// and the purge of everything of the tenant: the controller's time to
	// download its return package (GDPR Art. 28(3)(g)).
	OffboardNotice time.Duration `envconfig:"OFFBOARD_NOTICE" default:"720h"`
	// OffboardPageSize is how many documents one page of an offboarding
	// purge deletes (one batch, one checkpoint check).
	OffboardPageSize int `envconfig:"OFFBOARD_PAGE_SIZE" default:"500"`

	// Breach notification of data subjects (the breach lane): its queue, the
	// recipients per batch message, the sending rate per process, the
	// parallel sends (and, with SMTP, the lane's own connections), retries,
	// and how long recipient lists are kept after the campaign's end.
	BreachSendQueue          string        `envconfig:"BREACH_SEND_QUEUE" default:"privops-breachsend"`
	BreachSendBatch          int           `envconfig:"BREACH_SEND_BATCH" default:"500"`
	BreachSendRate           float64       `envconfig:"BREACH_SEND_RATE" default:"100"`
	BreachSendConnections    int           `envconfig:"BREACH_SEND_CONNECTIONS" default:"4"`
	BreachSendParallel       int           `envconfig:"BREACH_SEND_PARALLEL" default:"16"`
	BreachSendMaxAttempts    int           `envconfig:"BREACH_SEND_MAX_ATTEMPTS" default:"5"`
	BreachSendRetryBase      time.Duration `envconfig:"BREACH_SEND_RETRY_BASE" default:"1m"`
	BreachRecipientsKeep     time.Duration `envconfig:"BREACH_RECIPIENTS_KEEP" default:"720h"`
	BreachRecipientsMax      int64         `envconfig:"BREACH_RECIPIENTS_MAX" default:"5000000"`
	BreachRecipientsMaxBytes int64         `envconfig:"BREACH_RECIPIENTS_MAX_BYTES" default:"1073741824"`

	CodeTTL         time.Duration `envconfig:"CODE_TTL" default:"15m"`
	CodeMaxAttempts int           `envconfig:"CODE_MAX_ATTEMPTS" default:"5"`
	// UnverifiedExpiry is how long a request waits for its code before the
	// watch cancels it and removes its personal data.
	UnverifiedExpiry time.Duration `envconfig:"UNVERIFIED_EXPIRY" default:"168h"`
	// ClarificationWait is how long a clock paused for a clarification stays
	// stopped without the subject's answer before the watch restarts it.
	ClarificationWait time.Duration `envconfig:"CLARIFICATION_WAIT" default:"720h"`
	// DeadlineDigestHour is the tenant-local hour from which the hourly watch
	// mails the day's deadline digest to a tenant's privacy contact; -1: never.
	DeadlineDigestHour int           `envconfig:"DEADLINE_DIGEST_HOUR" default:"8"`
	OutboxLease        time.Duration `envconfig:"OUTBOX_LEASE" default:"2m"`
	// OutboxDispatch says who carries out a request's outbox (its audit
	// entries and messages) after a write: "inline", the writer itself, right
	// after its write; or "changefeed" (STORE_BACKEND=cosmos on Azure), the
	// outbox function fed by the requests container's change feed, which takes
	// the flush out of the caller's path (intake answers after 2 round trips).
	// The deadline watch re-drives what either one leaves behind.
	OutboxDispatch string `envconfig:"OUTBOX_DISPATCH" default:"inline"`

	PortalMaxBody      int64  `envconfig:"PORTAL_MAX_BODY_BYTES" default:"16384"`
	AdminMaxBody       int64  `envconfig:"ADMIN_MAX_BODY_BYTES" default:"65536"`
	RateSubmitPerIP    int    `envconfig:"RATE_SUBMIT_PER_IP" default:"30"`
	RateSubmitPerEmail int    `envconfig:"RATE_SUBMIT_PER_EMAIL" default:"5"`
	RateVerifyPerIP    int    `envconfig:"RATE_VERIFY_PER_IP" default:"60"`
	TrustForwardedFor  bool   `envconfig:"TRUST_FORWARDED_FOR" default:"false"`
	PortalBaseURL      string `envconfig:"PORTAL_BASE_URL"`
	// ConsoleOIDCIssuer switches the admin console's sign-in with the
	// identity provider on (OpenID Connect authorization code flow with PKCE,
	// a public client: no secret): the issuer whose discovery document
	// (<issuer>/.well-known/openid-configuration) names the endpoints;
	// ConsoleOIDCClientID the console's client id registered there (redirect
	// URI <PUBLIC_URL>/api/console/); ConsoleOIDCScope the scopes asked for,
	// which must yield an access token the admin API accepts (AUTH_AUDIENCE).
	// Empty issuer: the console offers only pasting a token.
	ConsoleOIDCIssuer   string `envconfig:"CONSOLE_OIDC_ISSUER"`
	ConsoleOIDCClientID string `envconfig:"CONSOLE_OIDC_CLIENT_ID"`
	ConsoleOIDCScope    string `envconfig:"CONSOLE_OIDC_SCOPE" default:"openid"`
	// PublicURL is the base URL of this app's HTTP functions as the outside
	// world reaches them: download links and webhook callback URLs use it.
	// Standalone, it defaults to http:// and HTTP_ADDR.
	PublicURL string `envconfig:"PUBLIC_URL"`

	BlobBackend          string `envconfig:"BLOB_BACKEND" default:"local"`
	BlobDir              string `envconfig:"BLOB_DIR"`
	BlobConnectionString string `envconfig:"BLOB_CONNECTION_STRING" secret:"true"`
	BlobAccountURL       string `envconfig:"BLOB_ACCOUNT_URL"`
	BlobContainer        string `envconfig:"BLOB_CONTAINER" default:"privops-exports"`

	TaskLease       time.Duration `envconfig:"TASK_LEASE" default:"5m"`
	TaskRetryBase   time.Duration `envconfig:"TASK_RETRY_BASE" default:"30s"`
	TaskRetryCap    time.Duration `envconfig:"TASK_RETRY_CAP" default:"1h"`
	TaskMaxAttempts int           `envconfig:"TASK_MAX_ATTEMPTS" default:"10"`
	WebhookTimeout  time.Duration `envconfig:"WEBHOOK_TIMEOUT" default:"30s"`
	MaxExportBytes  int64         `envconfig:"MAX_EXPORT_BYTES" default:"2147483648"`

	// TaskCallbackTimeout is how long a task whose service answered 202 (or
	// a Service Bus service) waits for the answer before the service is called
	// again with the same Idempotency-Key; after TASK_MAX_ATTEMPTS calls the
	// task fails with the reason.
	TaskCallbackTimeout time.Duration `envconfig:"TASK_CALLBACK_TIMEOUT" default:"24h"`

	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`
	// OTelEndpoint switches OpenTelemetry on: the OTLP/HTTP base URL of an
	// OpenTelemetry Collector (shared/telemetry). Empty: off, nothing installed.
	OTelEndpoint    string `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	OTelServiceName string `envconfig:"OTEL_SERVICE_NAME" default:"privops"`
	// PprofAddr, when set (standalone only), serves net/http/pprof on its own
	// listener, e.g. 127.0.0.1:6060, for profiling. Never on a public address.
	PprofAddr  string `envconfig:"PPROF_ADDR"`
	DemoTenant bool   `envconfig:"DEMO_TENANT" default:"true"`
	// CrashPoint names a step at which the standalone process kills itself
	// (SIGKILL). Only for the crash tests; ignored on Azure.
	CrashPoint string `envconfig:"PRIVOPS_CRASHPOINT"`
}

// Load reads the environment. Every error names the setting.
func Load() (*Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if c.Lambda() && os.Getenv("DATA_DIR") == "" {
		c.DataDir = filepath.Join(os.TempDir(), "privops") // the only writable place in Lambda
	}
	if c.MailOutboxDir == "" {
		c.MailOutboxDir = filepath.Join(c.DataDir, "outbox")
	}
	if c.BlobDir == "" {
		c.BlobDir = filepath.Join(c.DataDir, "blobs")
	}
	return &c, c.check()
}

// validQueueName reports whether s is what Service Bus and SQS both accept as
// a queue name: ^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$. Checked by hand: the
// regular expression, compiled at every start, cost a cold start about
// 0.2 MB and a millisecond (issue 16).
func validQueueName(s string) bool {
	if len(s) == 0 || len(s) > 260 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// Azure reports whether the Functions host started the binary.
func (c *Config) Azure() bool { return c.FunctionsPort != "" }

// Lambda reports whether the AWS Lambda runtime started the binary.
func (c *Config) Lambda() bool { return c.LambdaRuntimeAPI != "" && !c.Azure() }

// Cloud reports whether a managed host (Azure Functions or AWS Lambda) runs
// the binary: the production checks apply and no demo tenant is made.
func (c *Config) Cloud() bool { return c.Azure() || c.Lambda() }

func (c *Config) check() error {
	var errs []error
	bad := func(name, format string, args ...any) { errs = append(errs, fmt.Errorf(name+": "+format, args...)) }
	oneOf := func(name, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	oneOf("STORE_BACKEND", c.StoreBackend, "sqlite", "cosmos")
	if c.StoreBackend == "cosmos" {
		c.checkCosmos(bad, oneOf)
	}
	oneOf("QUEUE_BACKEND", c.QueueBackend, "sqlite", "servicebus", "sqs")
	if c.QueueBackend == "sqs" && !c.Lambda() {
		bad("QUEUE_BACKEND", "sqs is received by Lambda's SQS event source mappings; run under AWS Lambda, or use sqlite")
	}
	if c.QueueBackend == "servicebus" && c.ServiceBusConnectionString == "" && c.ServiceBusNamespace == "" {
		bad("SERVICEBUS_CONNECTION_STRING/SERVICEBUS_NAMESPACE", "one is required when QUEUE_BACKEND=servicebus")
	}
	for _, q := range [][2]string{{"NOTICES_QUEUE", c.NoticesQueue}, {"TASKS_QUEUE", c.TasksQueue}, {"INBOUND_QUEUE", c.InboundQueue}, {"RETENTION_QUEUE", c.RetentionQueue}, {"BREACH_SEND_QUEUE", c.BreachSendQueue}} {
		if !validQueueName(q[1]) {
			bad(q[0], "%q is not a queue name (1-260 of letters, digits, '.', '-', '_', starting with a letter or digit)", q[1])
		}
	}
	if c.InboundWindow < 30*time.Second || c.InboundWindow > time.Hour {
		bad("INBOUND_WINDOW", "%s is outside 30s..1h", c.InboundWindow)
	}
	if c.DeadLetterKeep < 24*time.Hour || c.DeadLetterKeep > 90*24*time.Hour {
		bad("DEADLETTER_KEEP", "%s is outside 24h..2160h (1 to 90 days): dead-lettered bodies may hold personal data", c.DeadLetterKeep)
	}
	if c.InboundKeepRejected < time.Hour || c.InboundKeepRejected > 90*24*time.Hour {
		bad("INBOUND_KEEP_REJECTED", "%s is outside 1h..2160h (90 days): rejected bodies may hold personal data", c.InboundKeepRejected)
	}
	oneOf("OUTBOX_DISPATCH", c.OutboxDispatch, "inline", "changefeed")
	if c.OutboxDispatch == "changefeed" && (c.StoreBackend != "cosmos" || !c.Azure()) {
		bad("OUTBOX_DISPATCH", "changefeed needs STORE_BACKEND=cosmos under the Functions host (the outbox function's cosmosDBTrigger); use inline")
	}
	oneOf("SQLITE_SYNCHRONOUS", c.SQLiteSynchronous, "full", "normal")
	oneOf("MAIL_BACKEND", c.MailBackend, "outbox", "smtp")
	oneOf("BLOB_BACKEND", c.BlobBackend, "local", "azure")
	if c.BlobBackend == "azure" && c.BlobConnectionString == "" && c.BlobAccountURL == "" {
		bad("BLOB_CONNECTION_STRING/BLOB_ACCOUNT_URL", "one is required when BLOB_BACKEND=azure")
	}
	if c.TaskLease < 30*time.Second || c.TaskRetryBase < time.Second || c.TaskMaxAttempts < 1 || c.WebhookTimeout < time.Second {
		bad("TASK_LEASE/TASK_RETRY_BASE/TASK_MAX_ATTEMPTS/WEBHOOK_TIMEOUT", "lease at least 30s, retry base at least 1s, at least 1 attempt, timeout at least 1s")
	}
	if c.DeadlineDigestHour < -1 || c.DeadlineDigestHour > 23 {
		bad("DEADLINE_DIGEST_HOUR", "%d is outside -1..23 (an hour of the tenant's day, or -1 for no digest)", c.DeadlineDigestHour)
	}
	if c.ClarificationWait < 24*time.Hour || c.ClarificationWait > 90*24*time.Hour {
		bad("CLARIFICATION_WAIT", "%s is outside 24h..2160h: a subject must get time to answer, and a stopped clock must not stop for ever", c.ClarificationWait)
	}
	if c.UnverifiedExpiry < time.Hour || c.UnverifiedExpiry > 90*24*time.Hour {
		bad("UNVERIFIED_EXPIRY", "%s is outside 1h..2160h: a subject must get time to find the mail, and an unconfirmed address must not be kept for long", c.UnverifiedExpiry)
	}
	if c.TaskCallbackTimeout < 30*time.Second || c.TaskCallbackTimeout > 30*24*time.Hour {
		bad("TASK_CALLBACK_TIMEOUT", "%s is outside 30s..720h: a service must get time to answer, and a lost answer must not wait past a month", c.TaskCallbackTimeout)
	}
	if c.TaskRetryCap < c.TaskRetryBase {
		bad("TASK_RETRY_CAP", "%s is below TASK_RETRY_BASE %s", c.TaskRetryCap, c.TaskRetryBase)
	}
	if c.WebhookTimeout >= c.TaskLease {
		bad("WEBHOOK_TIMEOUT", "must be shorter than TASK_LEASE, or a slow call outlives its claim")
	}
	oneOf("AUTH_MODE", c.AuthMode, "dev", "jwks")
	oneOf("SMTP_TLS", c.SMTPTLS, "mandatory", "opportunistic", "none")
	if c.MailBackend == "smtp" && c.SMTPHost == "" {
		bad("SMTP_HOST", "is required when MAIL_BACKEND=smtp")
	}
	if c.AuthMode == "jwks" && c.AuthJWKSURL == "" {
		bad("AUTH_JWKS_URL", "is required when AUTH_MODE=jwks")
	}
	c.checkClaims(bad)
	if c.ConsoleOIDCIssuer != "" {
		u, err := url.Parse(c.ConsoleOIDCIssuer)
		loopback := err == nil && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1")
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !(u.Scheme == "https" || (u.Scheme == "http" && loopback)) {
			bad("CONSOLE_OIDC_ISSUER", "must be an https URL (http only on a loopback address)")
		}
		if c.ConsoleOIDCClientID == "" {
			bad("CONSOLE_OIDC_CLIENT_ID", "is required when CONSOLE_OIDC_ISSUER is set")
		}
		if strings.TrimSpace(c.ConsoleOIDCScope) == "" {
			bad("CONSOLE_OIDC_SCOPE", "must name at least one scope")
		}
	}
	if _, err := ncrontab.Parse(c.DeadlineWatchSchedule); err != nil {
		bad("DEADLINE_WATCH_SCHEDULE", "%v (NCRONTAB: {second} {minute} {hour} {day} {month} {day-of-week}, in UTC)", err)
	}
	if _, err := ncrontab.Parse(c.RetentionSchedule); err != nil {
		bad("RETENTION_SCHEDULE", "%v (NCRONTAB: {second} {minute} {hour} {day} {month} {day-of-week}, in UTC)", err)
	}
	// A budget under a second makes no progress worth a message; one over
	// 10 minutes outlives the Functions host's default timeout.
	if c.RetentionBudget < time.Second || c.RetentionBudget > 10*time.Minute {
		bad("RETENTION_BUDGET", "%s is outside 1s..10m", c.RetentionBudget)
	}
	// The lease must outlast the budget and the page in flight when it ends,
	// or a live sweep would be taken over.
	if c.RetentionLease < c.RetentionBudget+10*time.Second {
		bad("RETENTION_LEASE", "%s must be at least RETENTION_BUDGET + 10s", c.RetentionLease)
	}
	if c.RetentionPageSize < 10 || c.RetentionPageSize > 5000 {
		bad("RETENTION_PAGE_SIZE", "%d is outside 10..5000", c.RetentionPageSize)
	}
	if c.RetentionPagePauseMS < 0 || c.RetentionPagePauseMS > 10000 {
		bad("RETENTION_PAGE_PAUSE_MS", "%d is outside 0..10000", c.RetentionPagePauseMS)
	}
	// A service gets at least a minute to answer; at most 20 hours, so a
	// nightly run has ended before the next night's begins.
	if c.RetentionServiceAnswerWait < time.Minute || c.RetentionServiceAnswerWait > 20*time.Hour {
		bad("RETENTION_SERVICE_ANSWER_WAIT", "%s is outside 1m..20h", c.RetentionServiceAnswerWait)
	}
	// Past 180 days after the end of the contract the processor would keep
	// data it has no instructions for (GDPR Art. 28(3)(g), Art. 5(1)(e));
	// the floor is low only so that tests and demos can run a purge.
	if c.OffboardNotice < time.Second || c.OffboardNotice > 180*24*time.Hour {
		bad("OFFBOARD_NOTICE", "%s is outside 1s..4320h (180 days)", c.OffboardNotice)
	}
	if c.OffboardPageSize < 10 || c.OffboardPageSize > 5000 {
		bad("OFFBOARD_PAGE_SIZE", "%d is outside 10..5000", c.OffboardPageSize)
	}
	c.checkBreachSend(bad)
	if c.Cloud() && c.AuthMode == "dev" {
		bad("AUTH_MODE", "dev tokens are for standalone use; set AUTH_MODE=jwks on Azure and Lambda")
	}
	if c.Cloud() && c.AuthMode == "jwks" {
		// An empty issuer or audience skips that check: any token the
		// provider signs, for any application, would pass.
		if strings.TrimSpace(c.AuthIssuer) == "" {
			bad("AUTH_ISSUER", "is required on Azure and Lambda (Entra ID v2: https://login.microsoftonline.com/<directory id>/v2.0)")
		}
		if strings.TrimSpace(c.AuthAudience) == "" {
			bad("AUTH_AUDIENCE", "is required on Azure and Lambda (Entra ID v2: the API app registration's client id)")
		}
	}
	if c.Cloud() && c.SecretKey == "" {
		bad("SECRET_KEY", "is required on Azure and Lambda (reference it from Key Vault or Secrets Manager)")
	}
	// Privacy floors: a code must not live long or allow many guesses.
	if c.CodeTTL < time.Minute || c.CodeTTL > time.Hour {
		bad("CODE_TTL", "%s is outside 1m..1h", c.CodeTTL)
	}
	if c.CodeMaxAttempts < 1 || c.CodeMaxAttempts > 10 {
		bad("CODE_MAX_ATTEMPTS", "%d is outside 1..10", c.CodeMaxAttempts)
	}
	if c.PortalMaxBody < 1024 || c.AdminMaxBody < 1024 {
		bad("PORTAL_MAX_BODY_BYTES/ADMIN_MAX_BODY_BYTES", "must be at least 1024")
	}
	if c.OTelEndpoint != "" {
		if u, err := url.Parse(c.OTelEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("OTEL_EXPORTER_OTLP_ENDPOINT", "%q is not an http(s) URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318", c.OTelEndpoint)
		}
	}
	if c.QueueLease < 5*time.Second || c.QueueWorkers < 1 || c.OutboxLease < time.Second {
		bad("QUEUE_LEASE/QUEUE_WORKERS/OUTBOX_LEASE", "lease at least 5s, at least one worker, outbox lease at least 1s")
	}
	return errors.Join(errs...)
}

// registeredClaims are the JWT claims (RFC 7519 §4.1) that mean something else
// than a tenant or roles.
var registeredClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// validClaimName reports whether s is a claim name, ^[!-~]{1,200}$: no spaces
// or control characters, which a setting copied with its quotes or a line
// break would have. Checked by hand, as validQueueName.
func validClaimName(s string) bool {
	if len(s) == 0 || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// checkClaims checks the claim mapping (AUTH_TENANT_CLAIM, AUTH_ROLES_CLAIM,
// AUTH_OPERATOR_TENANT).
func (c *Config) checkClaims(bad func(name, format string, args ...any)) {
	for _, s := range [][2]string{{"AUTH_TENANT_CLAIM", c.AuthTenantClaim}, {"AUTH_ROLES_CLAIM", c.AuthRolesClaim}} {
		switch {
		case !validClaimName(s[1]):
			bad(s[0], "%q is not a claim name (1-200 printable characters, no spaces)", s[1])
		case slices.Contains(registeredClaims, s[1]):
			bad(s[0], "%q is a registered JWT claim, not one that names a tenant or carries roles", s[1])
		}
	}
	if c.AuthTenantClaim == c.AuthRolesClaim {
		bad("AUTH_TENANT_CLAIM", "is the same claim as AUTH_ROLES_CLAIM")
	}
	if c.AuthOperatorTenant != "" && strings.TrimSpace(c.AuthOperatorTenant) != c.AuthOperatorTenant {
		bad("AUTH_OPERATOR_TENANT", "has leading or trailing spaces")
	}
	if c.AuthOperatorTenant == "demo" && c.DemoTenant && !c.Cloud() {
		// A token naming demo would be an operator token: the demo tenant
		// and the dev admin token printed for it would be unreachable.
		bad("AUTH_OPERATOR_TENANT", "is the demo tenant's id; choose another, or set DEMO_TENANT=false")
	}
}

// checkCosmos checks the Cosmos DB settings (STORE_BACKEND=cosmos only).
func (c *Config) checkCosmos(bad func(name, format string, args ...any), oneOf func(name, v string, allowed ...string)) {
	if u, err := url.Parse(c.CosmosEndpoint); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("COSMOS_ENDPOINT", "is required when STORE_BACKEND=cosmos: the account URL, https://<account>.documents.azure.com:443/")
	}
	if strings.TrimSpace(c.CosmosDatabase) == "" {
		bad("COSMOS_DATABASE", "must not be empty")
	}
	oneOf("COSMOS_AUTH", c.CosmosAuth, "identity", "key")
	switch {
	case c.CosmosAuth == "key" && c.CosmosKey == "":
		bad("COSMOS_KEY", "is required when COSMOS_AUTH=key")
	case c.CosmosAuth == "identity" && c.CosmosKey != "":
		bad("COSMOS_KEY", "is set but COSMOS_AUTH=identity ignores it: set COSMOS_AUTH=key to use the key, or remove it")
	}
}

// Setting returns the value of an app setting referenced as %NAME% in a
// function.json: the environment, else this config's default.
// Secrets are never resolved this way: a function.json has no reason to name one.
func (c *Config) Setting(name string) (string, bool) {
	rv, rt := reflect.ValueOf(c).Elem(), reflect.TypeOf(c).Elem()
	for i := range rt.NumField() {
		if rt.Field(i).Tag.Get("envconfig") == name && rt.Field(i).Tag.Get("secret") != "" {
			return "", false
		}
	}
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	for i := range rt.NumField() {
		if rt.Field(i).Tag.Get("envconfig") == name {
			return fmt.Sprint(rv.Field(i).Interface()), true
		}
	}
	return "", false
}

// LogValue lists the settings with secrets redacted.
func (c Config) LogValue() slog.Value {
	rv, rt := reflect.ValueOf(c), reflect.TypeOf(c)
	attrs := make([]slog.Attr, 0, rt.NumField())
	for i := range rt.NumField() {
		name := rt.Field(i).Tag.Get("envconfig")
		v := fmt.Sprint(rv.Field(i).Interface())
		if rt.Field(i).Tag.Get("secret") != "" && v != "" {
			v = "[redacted]"
		}
		attrs = append(attrs, slog.String(name, v))
	}
	return slog.GroupValue(attrs...)
}

// Secrets are the keys the suite runs with.
type Secrets struct {
	Root   []byte
	DevJWT []byte
}

// LoadSecrets decodes SECRET_KEY and AUTH_DEV_KEY. Standalone, a missing key is
// generated once and kept in DATA_DIR/secrets.json (mode 0600), so a restart
// keeps tokens, codes and subject hashes valid.
func (c *Config) LoadSecrets() (Secrets, error) { return c.loadSecrets(false) }

func (c *Config) loadSecrets(retried bool) (Secrets, error) {
	var s Secrets
	var stored struct{ SecretKey, AuthDevKey string }
	file := filepath.Join(c.DataDir, "secrets.json")
	existed := false
	if !c.Cloud() {
		if b, err := os.ReadFile(file); err == nil {
			existed = true
			if err := json.Unmarshal(b, &stored); err != nil {
				return s, fmt.Errorf("read %s: %w", file, err)
			}
		}
	}
	generated := false
	pick := func(name, env string, stored *string) ([]byte, error) {
		v := env // a key given in the environment is used, never written to disk
		if v == "" && !c.Cloud() {
			if *stored == "" {
				b := make([]byte, 32)
				_, _ = rand.Read(b)
				*stored = base64.StdEncoding.EncodeToString(b)
				generated = true
			}
			v = *stored
		}
		k, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("%s: must be base64 of at least 32 bytes", name)
		}
		return k, nil
	}
	var err error
	if s.Root, err = pick("SECRET_KEY", c.SecretKey, &stored.SecretKey); err != nil {
		return s, err
	}
	if c.AuthMode == "dev" {
		if s.DevJWT, err = pick("AUTH_DEV_KEY", c.AuthDevKey, &stored.AuthDevKey); err != nil {
			return s, err
		}
	}
	if generated {
		// Written only when a key was generated, and never in place: a
		// start beside a running suite or CLI reads the file while it is
		// written, and a kill halfway must not leave SECRET_KEY truncated.
		won, err := writeSecrets(c.DataDir, file, stored, existed)
		if err != nil {
			return s, err
		}
		if !won && retried {
			return s, fmt.Errorf("write %s: another process keeps creating it", file)
		}
		if !won {
			// Another process generated the keys first: use its.
			return c.loadSecrets(true)
		}
	}
	return s, nil
}

// writeSecrets writes stored to file through a synced temporary file: renamed
// over an existing file, or linked in place of a missing one so that, of two
// first starts, exactly one wins (won false: the other did, keep its keys).
func writeSecrets(dir, file string, stored any, replace bool) (won bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".secrets-*.json")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	b, _ := json.Marshal(stored)
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && replace {
		err = os.Rename(tmp.Name(), file)
	} else if err == nil {
		err = os.Link(tmp.Name(), file)
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("write %s: %w", file, err)
	}
	return true, nil
}

// checkBreachSend checks the breach lane's settings.
func (c *Config) checkBreachSend(bad func(name, format string, args ...any)) {
	if c.BreachSendBatch < 10 || c.BreachSendBatch > 5000 {
		bad("BREACH_SEND_BATCH", "%d is outside 10..5000", c.BreachSendBatch)
	}
	if c.BreachSendRate < 0 || c.BreachSendRate > 100000 {
		bad("BREACH_SEND_RATE", "%g is outside 0..100000 messages per second (0: unlimited)", c.BreachSendRate)
	}
	if c.BreachSendConnections < 1 || c.BreachSendConnections > 64 {
		bad("BREACH_SEND_CONNECTIONS", "%d is outside 1..64", c.BreachSendConnections)
	}
	if c.BreachSendParallel < 1 || c.BreachSendParallel > 256 {
		bad("BREACH_SEND_PARALLEL", "%d is outside 1..256", c.BreachSendParallel)
	}
	if c.BreachSendMaxAttempts < 1 || c.BreachSendMaxAttempts > 20 {
		bad("BREACH_SEND_MAX_ATTEMPTS", "%d is outside 1..20", c.BreachSendMaxAttempts)
	}
	if c.BreachSendRetryBase < time.Second || c.BreachSendRetryBase > time.Hour {
		bad("BREACH_SEND_RETRY_BASE", "%s is outside 1s..1h", c.BreachSendRetryBase)
	}
	// Recipient lists are personal data: kept at least a day after the
	// campaign (to answer "was I notified?" and to resend a bounce), at most
	// 90 days (GDPR Art. 5(1)(e)).
	if c.BreachRecipientsKeep < 24*time.Hour || c.BreachRecipientsKeep > 90*24*time.Hour {
		bad("BREACH_RECIPIENTS_KEEP", "%s is outside 24h..2160h (90 days): recipient lists are personal data", c.BreachRecipientsKeep)
	}
	if c.BreachRecipientsMax < 1 || c.BreachRecipientsMax > 50_000_000 {
		bad("BREACH_RECIPIENTS_MAX", "%d is outside 1..50000000", c.BreachRecipientsMax)
	}
	if c.BreachRecipientsMaxBytes < 1024 || c.BreachRecipientsMaxBytes > 16<<30 {
		bad("BREACH_RECIPIENTS_MAX_BYTES", "%d is outside 1024..17179869184 (16 GiB)", c.BreachRecipientsMaxBytes)
	}
}
