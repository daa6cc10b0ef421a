// Package config reads the suite's settings from the environment (app settings
// on Azure, local.settings.json for `func start`, plain variables standalone),
// applies defaults and checks the privacy-critical floors. Secrets are never
// printed: LogValue redacts them.
package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/kelseyhightower/envconfig"
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

// Azure reports whether the Functions host started the binary.
func (c *Config) Azure() bool { return c.FunctionsPort != "" }

// Lambda reports whether the AWS Lambda runtime started the binary.
func (c *Config) Lambda() bool { return c.LambdaRuntimeAPI != "" && !c.Azure() }

// Cloud reports whether a managed host (Azure Functions or AWS Lambda) runs
// the binary: the production checks apply and no demo tenant is made.
func (c *Config) Cloud() bool { return c.Azure() || c.Lambda() }

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
