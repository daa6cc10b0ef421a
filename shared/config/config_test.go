package config_test

// Tests of Load and Setting change the process environment with t.Setenv, which
// refuses to run in a parallel test: they run one after the other. Tests that only
// need a Config value (LoadSecrets, LogValue) build it directly and run in parallel.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/config"
)

// settingNames lists every environment variable Config reads.
func settingNames(tb testing.TB) []string {
	tb.Helper()
	var names []string
	rt := reflect.TypeFor[config.Config]()
	for i := range rt.NumField() {
		if n := rt.Field(i).Tag.Get("envconfig"); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		tb.Fatal("config.Config has no envconfig tags")
	}
	return names
}

// cleanEnv unsets every setting for the rest of the test (restored afterwards),
// so the host's environment cannot leak into a case. A variable that is set but
// empty is not the same as an unset one for envconfig, hence Unsetenv.
func cleanEnv(tb testing.TB) {
	tb.Helper()
	unsetEnv(tb, settingNames(tb)...)
}

// unsetEnv unsets names for the rest of the test; t.Setenv restores them afterwards.
func unsetEnv(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		tb.Setenv(n, "") // registers the restore
		if err := os.Unsetenv(n); err != nil {
			tb.Fatal(err)
		}
	}
}

// setEnv sets env on a clean environment for the rest of the test.
func setEnv(tb testing.TB, env map[string]string) {
	tb.Helper()
	cleanEnv(tb)
	for k, v := range env {
		tb.Setenv(k, v)
	}
}

// namedSettings returns the setting each line of a (joined) Load error names:
// the text before the first ": ".
func namedSettings(tb testing.TB, err error) []string {
	tb.Helper()
	var names []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		name, _, ok := strings.Cut(line, ": ")
		if !ok {
			tb.Fatalf("error line %q does not start with the setting's name", line)
		}
		names = append(names, name)
	}
	return names
}

func TestLoadDefaults(t *testing.T) {
	cleanEnv(t)
	got, err := config.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &config.Config{
		HTTPAddr:                 "127.0.0.1:7071",
		DataDir:                  "data",
		StoreBackend:             "sqlite",
		QueueBackend:             "sqlite",
		CosmosDatabase:           "privops",
		CosmosAuth:               "identity",
		SQLiteSynchronous:        "full",
		QueueLease:               time.Minute,
		QueueWorkers:             4,
		MailBackend:              "outbox",
		MailFrom:                 "privacy@privops.local",
		MailOutboxDir:            filepath.Join("data", "outbox"),
		SMTPPort:                 587,
		SMTPTLS:                  "mandatory",
		AuthMode:                 "dev",
		AuthIssuer:               "privops-dev",
		AuthAudience:             "privops",
		AuthTenantClaim:          "tid",
		AuthRolesClaim:           "roles",
		NoticesQueue:             "privops-notices",
		TasksQueue:               "privops-tasks",
		InboundQueue:             "privops-inbound",
		InboundWindow:            5 * time.Minute,
		InboundKeepRejected:      336 * time.Hour,
		DeadlineWatchSchedule:    "0 5 * * * *",
		RetentionSchedule:        "0 0 2 * * *",
		RetentionQueue:           "privops-retention",
		DeadLetterKeep:           336 * time.Hour,
		RetentionBudget:          2 * time.Minute,
		RetentionLease:           5 * time.Minute,
		RetentionPageSize:        500,
		RetentionPagePauseMS:     0,
		OffboardNotice:           720 * time.Hour,
		OffboardPageSize:         500,
		BlobBackend:              "local",
		BlobDir:                  filepath.Join("data", "blobs"),
		BlobContainer:            "privops-exports",
		TaskLease:                5 * time.Minute,
		TaskRetryBase:            30 * time.Second,
		TaskRetryCap:             time.Hour,
		TaskMaxAttempts:          10,
		TaskCallbackTimeout:      24 * time.Hour,
		WebhookTimeout:           30 * time.Second,
		MaxExportBytes:           2 << 30,
		CodeTTL:                  15 * time.Minute,
		UnverifiedExpiry:         7 * 24 * time.Hour,
		ClarificationWait:        30 * 24 * time.Hour,
		DeadlineDigestHour:       8,
		CodeMaxAttempts:          5,
		OutboxLease:              2 * time.Minute,
		OutboxDispatch:           "inline",
		PortalMaxBody:            16384,
		AdminMaxBody:             65536,
		RateSubmitPerIP:          30,
		RateSubmitPerEmail:       5,
		RateVerifyPerIP:          60,
		ConsoleOIDCScope:         "openid",
		TrustForwardedFor:        false,
		LogLevel:                 "info",
		OTelServiceName:          "privops",
		DemoTenant:               true,
		BreachSendQueue:          "privops-breachsend",
		BreachSendBatch:          500,
		BreachSendRate:           100,
		BreachSendConnections:    4,
		BreachSendParallel:       16,
		BreachSendMaxAttempts:    5,
		BreachSendRetryBase:      time.Minute,
		BreachRecipientsKeep:     720 * time.Hour,
		BreachRecipientsMax:      5_000_000,
		BreachRecipientsMaxBytes: 1 << 30,

		RetentionServiceAnswerWait: 6 * time.Hour,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load() defaults (-want +got):\n%s", diff)
	}
	if got.Azure() {
		t.Error("Azure() = true without FUNCTIONS_CUSTOMHANDLER_PORT")
	}
}

func TestLoadReadsTheEnvironment(t *testing.T) {
	setEnv(t, map[string]string{
		"DATA_DIR":            "/var/lib/privops",
		"CODE_TTL":            "10m",
		"CODE_MAX_ATTEMPTS":   "3",
		"TRUST_FORWARDED_FOR": "true",
		"MAIL_BACKEND":        "smtp",
		"SMTP_HOST":           "smtp.example.com",
	})
	got, err := config.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	type picked struct {
		DataDir, MailOutboxDir, MailBackend, SMTPHost string
		CodeTTL                                       time.Duration
		CodeMaxAttempts                               int
		TrustForwardedFor                             bool
	}
	want := picked{"/var/lib/privops", "/var/lib/privops/outbox", "smtp", "smtp.example.com", 10 * time.Minute, 3, true}
	if diff := cmp.Diff(want, picked{got.DataDir, got.MailOutboxDir, got.MailBackend, got.SMTPHost,
		got.CodeTTL, got.CodeMaxAttempts, got.TrustForwardedFor}); diff != "" {
		t.Errorf("Load() (-want +got):\n%s", diff)
	}
}

func TestLoadAcceptsTheBounds(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
	}{
		{"CODE_TTL 1m", map[string]string{"CODE_TTL": "1m"}},
		{"CODE_TTL 1h", map[string]string{"CODE_TTL": "1h"}},
		{"TASK_CALLBACK_TIMEOUT 30s", map[string]string{"TASK_CALLBACK_TIMEOUT": "30s"}},
		{"TASK_CALLBACK_TIMEOUT 720h", map[string]string{"TASK_CALLBACK_TIMEOUT": "720h"}},
		{"CODE_MAX_ATTEMPTS 1", map[string]string{"CODE_MAX_ATTEMPTS": "1"}},
		{"CODE_MAX_ATTEMPTS 10", map[string]string{"CODE_MAX_ATTEMPTS": "10"}},
		{"smtp with a host", map[string]string{"MAIL_BACKEND": "smtp", "SMTP_HOST": "smtp.example.com"}},
		{"jwks with a URL", map[string]string{"AUTH_MODE": "jwks", "AUTH_JWKS_URL": "https://login.example.com/keys"}},
		{"cosmos with identity", map[string]string{"STORE_BACKEND": "cosmos",
			"COSMOS_ENDPOINT": "https://acct.documents.azure.com:443/"}},
		{"cosmos with a key", map[string]string{"STORE_BACKEND": "cosmos", "COSMOS_ENDPOINT": "https://127.0.0.1:8081/",
			"COSMOS_AUTH": "key", "COSMOS_KEY": "a2V5", "COSMOS_DATABASE": "privops-dev"}},
		{"Entra ID claim mapping", map[string]string{"AUTH_MODE": "jwks", "AUTH_JWKS_URL": "https://login.example.com/keys",
			"AUTH_TENANT_CLAIM": "extn.privopsTenant", "AUTH_ROLES_CLAIM": "roles",
			"AUTH_OPERATOR_TENANT": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
		{"NCRONTAB with names and a step", map[string]string{"DEADLINE_WATCH_SCHEDULE": "0 */30 * * * Mon-Fri"}},
		{"otlp collector", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{"azure with jwks and a secret key", map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "34567",
			"AUTH_MODE": "jwks", "AUTH_JWKS_URL": "https://login.example.com/keys", "SECRET_KEY": "c2VjcmV0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			if _, err := config.Load(); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

func TestLoadRefusesUnsafeSettings(t *testing.T) {
	azure := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "34567",
		"AUTH_MODE": "jwks", "AUTH_JWKS_URL": "https://login.example.com/keys", "SECRET_KEY": "c2VjcmV0"}
	cosmos := map[string]string{"STORE_BACKEND": "cosmos", "COSMOS_ENDPOINT": "https://acct.documents.azure.com:443/"}
	on := func(base map[string]string, kv ...string) map[string]string {
		m := make(map[string]string, len(base)+len(kv)/2)
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		env  map[string]string
		want []string // the settings the error names, one per line
	}{
		{"console issuer over plain http", on(nil, "CONSOLE_OIDC_ISSUER", "http://login.example.com/t/v2.0", "CONSOLE_OIDC_CLIENT_ID", "c"),
			[]string{"CONSOLE_OIDC_ISSUER"}},
		{"console issuer without a client id", on(nil, "CONSOLE_OIDC_ISSUER", "https://login.example.com/t/v2.0"),
			[]string{"CONSOLE_OIDC_CLIENT_ID"}},
		{"console issuer with no scope", on(nil, "CONSOLE_OIDC_ISSUER", "https://login.example.com/t/v2.0", "CONSOLE_OIDC_CLIENT_ID", "c",
			"CONSOLE_OIDC_SCOPE", " "), []string{"CONSOLE_OIDC_SCOPE"}},
		{"CODE_TTL 30s", on(nil, "CODE_TTL", "30s"), []string{"CODE_TTL"}},
		{"CODE_TTL 2h", on(nil, "CODE_TTL", "2h"), []string{"CODE_TTL"}},
		{"TASK_CALLBACK_TIMEOUT 29s", on(nil, "TASK_CALLBACK_TIMEOUT", "29s"), []string{"TASK_CALLBACK_TIMEOUT"}},
		{"TASK_CALLBACK_TIMEOUT 721h", on(nil, "TASK_CALLBACK_TIMEOUT", "721h"), []string{"TASK_CALLBACK_TIMEOUT"}},
		{"CODE_TTL 59s", on(nil, "CODE_TTL", "59s"), []string{"CODE_TTL"}},
		{"CODE_TTL 1h1s", on(nil, "CODE_TTL", "1h0m1s"), []string{"CODE_TTL"}},
		{"CODE_MAX_ATTEMPTS 0", on(nil, "CODE_MAX_ATTEMPTS", "0"), []string{"CODE_MAX_ATTEMPTS"}},
		{"CODE_MAX_ATTEMPTS 11", on(nil, "CODE_MAX_ATTEMPTS", "11"), []string{"CODE_MAX_ATTEMPTS"}},
		{"CODE_MAX_ATTEMPTS negative", on(nil, "CODE_MAX_ATTEMPTS", "-1"), []string{"CODE_MAX_ATTEMPTS"}},
		{"unknown STORE_BACKEND", on(nil, "STORE_BACKEND", "dynamodb"), []string{"STORE_BACKEND"}},
		{"cosmos without COSMOS_ENDPOINT", on(nil, "STORE_BACKEND", "cosmos"), []string{"COSMOS_ENDPOINT"}},
		{"cosmos with a plain-http endpoint", on(cosmos, "COSMOS_ENDPOINT", "http://acct.documents.azure.com/"),
			[]string{"COSMOS_ENDPOINT"}},
		{"cosmos with an empty database", on(cosmos, "COSMOS_DATABASE", " "), []string{"COSMOS_DATABASE"}},
		{"unknown COSMOS_AUTH", on(cosmos, "COSMOS_AUTH", "password"), []string{"COSMOS_AUTH"}},
		{"cosmos key auth without COSMOS_KEY", on(cosmos, "COSMOS_AUTH", "key"), []string{"COSMOS_KEY"}},
		{"cosmos identity auth with a COSMOS_KEY", on(cosmos, "COSMOS_KEY", "a2V5"), []string{"COSMOS_KEY"}},
		{"unknown QUEUE_BACKEND", on(nil, "QUEUE_BACKEND", "rabbitmq"), []string{"QUEUE_BACKEND"}},
		{"sqs outside Lambda", on(nil, "QUEUE_BACKEND", "sqs"), []string{"QUEUE_BACKEND"}},
		{"servicebus standalone, without a namespace", on(nil, "QUEUE_BACKEND", "servicebus"), []string{"SERVICEBUS_CONNECTION_STRING/SERVICEBUS_NAMESPACE"}},
		{"azure blobs without an account", on(nil, "BLOB_BACKEND", "azure"), []string{"BLOB_CONNECTION_STRING/BLOB_ACCOUNT_URL"}},
		{"webhook timeout outliving the task lease", on(nil, "WEBHOOK_TIMEOUT", "10m"), []string{"WEBHOOK_TIMEOUT"}},
		{"unknown OUTBOX_DISPATCH", on(nil, "OUTBOX_DISPATCH", "eventually"), []string{"OUTBOX_DISPATCH"}},
		{"change feed standalone", on(cosmos, "OUTBOX_DISPATCH", "changefeed"), []string{"OUTBOX_DISPATCH"}},
		{"change feed on the embedded store", on(azure, "OUTBOX_DISPATCH", "changefeed"), []string{"OUTBOX_DISPATCH"}},
		{"unknown SQLITE_SYNCHRONOUS", on(nil, "SQLITE_SYNCHRONOUS", "off"), []string{"SQLITE_SYNCHRONOUS"}},
		{"unknown MAIL_BACKEND", on(nil, "MAIL_BACKEND", "sendgrid"), []string{"MAIL_BACKEND"}},
		{"unknown SMTP_TLS", on(nil, "SMTP_TLS", "starttls"), []string{"SMTP_TLS"}},
		{"unknown AUTH_MODE", on(nil, "AUTH_MODE", "none"), []string{"AUTH_MODE"}},
		{"smtp without SMTP_HOST", on(nil, "MAIL_BACKEND", "smtp"), []string{"SMTP_HOST"}},
		{"jwks without AUTH_JWKS_URL", on(nil, "AUTH_MODE", "jwks"), []string{"AUTH_JWKS_URL"}},
		{"azure with dev tokens", on(azure, "AUTH_MODE", "dev"), []string{"AUTH_MODE"}},
		{"azure without SECRET_KEY", on(azure, "SECRET_KEY", ""), []string{"SECRET_KEY"}},
		{"azure without AUTH_ISSUER", on(azure, "AUTH_ISSUER", ""), []string{"AUTH_ISSUER"}},
		{"azure without AUTH_AUDIENCE", on(azure, "AUTH_AUDIENCE", " "), []string{"AUTH_AUDIENCE"}},
		{"azure with defaults", on(nil, "FUNCTIONS_CUSTOMHANDLER_PORT", "34567"), []string{"AUTH_MODE", "SECRET_KEY"}},
		{"lambda with defaults", on(nil, "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"), []string{"AUTH_MODE", "SECRET_KEY"}},
		{"AUTH_TENANT_CLAIM empty", on(nil, "AUTH_TENANT_CLAIM", ""), []string{"AUTH_TENANT_CLAIM"}},
		{"AUTH_TENANT_CLAIM with a space", on(nil, "AUTH_TENANT_CLAIM", "extn.privops tenant"), []string{"AUTH_TENANT_CLAIM"}},
		{"AUTH_TENANT_CLAIM sub", on(nil, "AUTH_TENANT_CLAIM", "sub"), []string{"AUTH_TENANT_CLAIM"}},
		{"AUTH_ROLES_CLAIM aud", on(nil, "AUTH_ROLES_CLAIM", "aud"), []string{"AUTH_ROLES_CLAIM"}},
		{"tenant and roles in one claim", on(nil, "AUTH_TENANT_CLAIM", "roles"), []string{"AUTH_TENANT_CLAIM"}},
		{"AUTH_OPERATOR_TENANT with a trailing space", on(nil, "AUTH_OPERATOR_TENANT", "operator "), []string{"AUTH_OPERATOR_TENANT"}},
		{"DEADLINE_WATCH_SCHEDULE with five fields", on(nil, "DEADLINE_WATCH_SCHEDULE", "5 * * * *"), []string{"DEADLINE_WATCH_SCHEDULE"}},
		{"DEADLINE_WATCH_SCHEDULE as a TimeSpan", on(nil, "DEADLINE_WATCH_SCHEDULE", "01:00:00"), []string{"DEADLINE_WATCH_SCHEDULE"}},
		{"DEADLINE_WATCH_SCHEDULE never fires", on(nil, "DEADLINE_WATCH_SCHEDULE", "0 0 0 30 2 *"), []string{"DEADLINE_WATCH_SCHEDULE"}},
		{"portal body below 1024", on(nil, "PORTAL_MAX_BODY_BYTES", "1023"), []string{"PORTAL_MAX_BODY_BYTES/ADMIN_MAX_BODY_BYTES"}},
		{"queue lease below 5s", on(nil, "QUEUE_LEASE", "4s"), []string{"QUEUE_LEASE/QUEUE_WORKERS/OUTBOX_LEASE"}},
		{"RETENTION_SCHEDULE with five fields", on(nil, "RETENTION_SCHEDULE", "0 2 * * *"), []string{"RETENTION_SCHEDULE"}},
		{"RETENTION_BUDGET below 1s", on(nil, "RETENTION_BUDGET", "500ms"), []string{"RETENTION_BUDGET"}},
		{"RETENTION_BUDGET above 10m", on(nil, "RETENTION_BUDGET", "11m", "RETENTION_LEASE", "20m"), []string{"RETENTION_BUDGET"}},
		{"RETENTION_LEASE not past the budget", on(nil, "RETENTION_BUDGET", "1m", "RETENTION_LEASE", "65s"), []string{"RETENTION_LEASE"}},
		{"RETENTION_SERVICE_ANSWER_WAIT below 1m", on(nil, "RETENTION_SERVICE_ANSWER_WAIT", "30s"), []string{"RETENTION_SERVICE_ANSWER_WAIT"}},
		{"RETENTION_SERVICE_ANSWER_WAIT above 20h", on(nil, "RETENTION_SERVICE_ANSWER_WAIT", "21h"), []string{"RETENTION_SERVICE_ANSWER_WAIT"}},
		{"RETENTION_PAGE_SIZE 0", on(nil, "RETENTION_PAGE_SIZE", "0"), []string{"RETENTION_PAGE_SIZE"}},
		{"RETENTION_QUEUE not a queue name", on(nil, "RETENTION_QUEUE", "-x"), []string{"RETENTION_QUEUE"}},
		{"otlp endpoint without a scheme", on(nil, "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"), []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{"otlp endpoint over grpc", on(nil, "OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317"), []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{"every floor at once", on(nil, "CODE_TTL", "30s", "CODE_MAX_ATTEMPTS", "11", "STORE_BACKEND", "dynamodb"),
			[]string{"STORE_BACKEND", "CODE_TTL", "CODE_MAX_ATTEMPTS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			_, err := config.Load()
			if err == nil {
				t.Fatal("Load() error = nil, want one")
			}
			if diff := cmp.Diff(tc.want, namedSettings(t, err)); diff != "" {
				t.Errorf("settings named by %q (-want +got):\n%s", err, diff)
			}
		})
	}
}

func TestLoadRefusesUnparsableValues(t *testing.T) {
	cases := []struct{ name, setting, value string }{
		{"duration without a unit", "CODE_TTL", "15"},
		{"not a number", "CODE_MAX_ATTEMPTS", "five"},
		{"not a boolean", "TRUST_FORWARDED_FOR", "maybe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, map[string]string{tc.setting: tc.value})
			_, err := config.Load()
			if err == nil {
				t.Fatalf("Load() with %s=%q: error = nil, want one", tc.setting, tc.value)
			}
			if !strings.Contains(err.Error(), tc.setting) {
				t.Errorf("Load() error %q does not name %s", err, tc.setting)
			}
		})
	}
}

func TestLogValueRedactsSecrets(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"SMTP_PASSWORD": "hunter2-smtp",
		"SECRET_KEY":    "c2VjcmV0LWtleS1ub3QtdG8tYmUtbG9nZ2Vk",
		"AUTH_DEV_KEY":  "ZGV2LWtleS1ub3QtdG8tYmUtbG9nZ2Vk",
	}
	cfg := config.Config{
		SMTPHost: "smtp.example.com", SMTPUsername: "mailer", MailFrom: "privacy@acme.example",
		CodeTTL: 15 * time.Minute, CodeMaxAttempts: 5, TrustForwardedFor: true,
		SMTPPassword: secrets["SMTP_PASSWORD"], SecretKey: secrets["SECRET_KEY"], AuthDevKey: secrets["AUTH_DEV_KEY"],
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", cfg)
	var line struct{ Config map[string]string }
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %s: %v", buf.String(), err)
	}
	got := map[string]string{}
	for _, k := range []string{"SMTP_PASSWORD", "SECRET_KEY", "AUTH_DEV_KEY", "SMTP_HOST", "SMTP_USERNAME",
		"MAIL_FROM", "CODE_TTL", "CODE_MAX_ATTEMPTS", "TRUST_FORWARDED_FOR", "AUTH_JWKS_URL"} {
		got[k] = line.Config[k]
	}
	want := map[string]string{
		"SMTP_PASSWORD":       "[redacted]",
		"SECRET_KEY":          "[redacted]",
		"AUTH_DEV_KEY":        "[redacted]",
		"SMTP_HOST":           "smtp.example.com",
		"SMTP_USERNAME":       "mailer",
		"MAIL_FROM":           "privacy@acme.example",
		"CODE_TTL":            "15m0s",
		"CODE_MAX_ATTEMPTS":   "5",
		"TRUST_FORWARDED_FOR": "true",
		"AUTH_JWKS_URL":       "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logged config (-want +got):\n%s", diff)
	}
	if n := len(line.Config); n != len(settingNames(t)) {
		t.Errorf("logged %d settings, want every one of the %d", n, len(settingNames(t)))
	}
	for name, secret := range secrets {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log contains the value of %s", name)
		}
	}
}

func TestLogValueShowsUnsetSecretsAsEmpty(t *testing.T) {
	t.Parallel()
	// An unset secret is shown as empty, so the log tells "not configured" apart
	// from "configured" without revealing the value.
	attrs := map[string]string{}
	for _, a := range (config.Config{}).LogValue().Group() {
		attrs[a.Key] = a.Value.String()
	}
	got := map[string]string{"SMTP_PASSWORD": attrs["SMTP_PASSWORD"], "SECRET_KEY": attrs["SECRET_KEY"], "AUTH_DEV_KEY": attrs["AUTH_DEV_KEY"]}
	want := map[string]string{"SMTP_PASSWORD": "", "SECRET_KEY": "", "AUTH_DEV_KEY": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unset secrets (-want +got):\n%s", diff)
	}
}

func TestSetting(t *testing.T) {
	cfg := &config.Config{
		NoticesQueue:          "privops-notices",
		TasksQueue:            "privops-tasks",
		DeadlineWatchSchedule: "0 5 * * * *",
		BlobBackend:           "local",
		BlobDir:               filepath.Join("data", "blobs"),
		BlobContainer:         "privops-exports",
		TaskLease:             5 * time.Minute,
		TaskRetryBase:         30 * time.Second,
		TaskRetryCap:          time.Hour,
		TaskMaxAttempts:       10,
		WebhookTimeout:        30 * time.Second,
		MaxExportBytes:        2 << 30,
		CodeMaxAttempts:       5,
		SecretKey:             "c2VjcmV0LWtleS1ub3QtdG8tYmUtcmVzb2x2ZWQ=",
		SMTPPassword:          "hunter2",
		AuthDevKey:            "ZGV2",
	}
	cases := []struct {
		name   string
		env    map[string]string
		lookup string
		want   string
		wantOK bool
	}{
		{"default of a setting", nil, "NOTICES_QUEUE", "privops-notices", true},
		{"environment before the default", map[string]string{"NOTICES_QUEUE": "acme-notices"}, "NOTICES_QUEUE", "acme-notices", true},
		{"environment set but empty", map[string]string{"DEADLINE_WATCH_SCHEDULE": ""}, "DEADLINE_WATCH_SCHEDULE", "", true},
		{"a number", nil, "CODE_MAX_ATTEMPTS", "5", true},
		{"an app setting Config does not know", map[string]string{"CUSTOM_QUEUE": "q"}, "CUSTOM_QUEUE", "q", true},
		{"unknown and unset", nil, "CUSTOM_QUEUE", "", false},
		{"SECRET_KEY is never resolved from the config", nil, "SECRET_KEY", "", false},
		{"SMTP_PASSWORD is never resolved from the config", nil, "SMTP_PASSWORD", "", false},
		{"AUTH_DEV_KEY is never resolved from the config", nil, "AUTH_DEV_KEY", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t, "CUSTOM_QUEUE")
			setEnv(t, tc.env)
			got, ok := cfg.Setting(tc.lookup)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Setting(%q) = %q, %t; want %q, %t", tc.lookup, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestSettingNeverResolvesASecretFromTheEnvironment(t *testing.T) {
	cfg := &config.Config{}
	for _, name := range []string{"SECRET_KEY", "SMTP_PASSWORD", "AUTH_DEV_KEY"} {
		t.Run(name, func(t *testing.T) {
			setEnv(t, map[string]string{name: "value-that-must-not-leak"})
			got, ok := cfg.Setting(name)
			failIfRegressed(t, got == "value-that-must-not-leak",
				"config.go:145 reads the environment before the secret check at line 150, so %"+name+"% in a function.json resolves to the secret")
			if got != "" || ok {
				t.Errorf("Setting(%q) = %q, %t; want \"\", false", name, got, ok)
			}
		})
	}
}

// failIfRegressed fails tb when a bug fixed earlier reproduces again.
func failIfRegressed(tb testing.TB, reproduces bool, bug string) {
	tb.Helper()
	if reproduces {
		tb.Fatalf("regression: %s", bug)
	}
}

// key returns base64 of n bytes of value b.
func key(n int, b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n)) }

// storedSecrets reads DATA_DIR/secrets.json.
func storedSecrets(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "secrets.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing generated, nothing stored
	}
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("secrets.json %s: %v", b, err)
	}
	return m
}

func TestLoadSecretsGeneratesOnceAndKeeps(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data") // not there yet: LoadSecrets creates it
	cfg := &config.Config{DataDir: dir, AuthMode: "dev"}

	first, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatalf("first LoadSecrets: %v", err)
	}
	if len(first.Root) != 32 || len(first.DevJWT) != 32 {
		t.Fatalf("generated keys of %d and %d bytes, want 32", len(first.Root), len(first.DevJWT))
	}
	if bytes.Equal(first.Root, first.DevJWT) {
		t.Error("SECRET_KEY and AUTH_DEV_KEY were generated equal")
	}
	if bytes.Equal(first.Root, make([]byte, 32)) {
		t.Error("generated SECRET_KEY is all zeros")
	}

	info, err := os.Stat(filepath.Join(dir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("secrets.json mode = %v, want -rw-------", got)
	}
	if dirInfo, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	} else if got := dirInfo.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("data dir mode = %v, want no access for group and others", got)
	}
	wantStored := map[string]string{
		"SecretKey":  base64.StdEncoding.EncodeToString(first.Root),
		"AuthDevKey": base64.StdEncoding.EncodeToString(first.DevJWT),
	}
	if diff := cmp.Diff(wantStored, storedSecrets(t, dir)); diff != "" {
		t.Errorf("secrets.json (-want +got):\n%s", diff)
	}

	second, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatalf("second LoadSecrets: %v", err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("keys after a restart (-first +second):\n%s", diff)
	}
}

func TestLoadSecretsNeverWritesEnvironmentKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rootKey, devKey := key(32, 'r'), key(48, 'd')
	cases := []struct {
		name       string
		cfg        config.Config
		wantRoot   string
		wantDev    string // "" when no dev key is expected
		wantStored []string
	}{
		{"SECRET_KEY from the environment", config.Config{DataDir: filepath.Join(dir, "a"), AuthMode: "dev", SecretKey: rootKey},
			rootKey, "", []string{"AuthDevKey"}},
		{"both keys from the environment", config.Config{DataDir: filepath.Join(dir, "b"), AuthMode: "dev", SecretKey: rootKey, AuthDevKey: devKey},
			rootKey, devKey, nil},
		{"jwks needs no dev key", config.Config{DataDir: filepath.Join(dir, "c"), AuthMode: "jwks", SecretKey: rootKey},
			rootKey, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := tc.cfg.LoadSecrets()
			if err != nil {
				t.Fatalf("LoadSecrets: %v", err)
			}
			if got := base64.StdEncoding.EncodeToString(s.Root); got != tc.wantRoot {
				t.Errorf("Root = %s, want the environment's key", got)
			}
			if tc.wantDev != "" && base64.StdEncoding.EncodeToString(s.DevJWT) != tc.wantDev {
				t.Error("DevJWT is not the environment's key")
			}
			if tc.cfg.AuthMode == "jwks" && s.DevJWT != nil {
				t.Error("DevJWT set with AUTH_MODE=jwks")
			}
			b, err := os.ReadFile(filepath.Join(tc.cfg.DataDir, "secrets.json"))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			for _, k := range []string{rootKey, devKey} {
				if bytes.Contains(b, []byte(k)) {
					t.Errorf("secrets.json %s holds a key given in the environment", b)
				}
			}
			var stored []string
			for k, v := range storedSecrets(t, tc.cfg.DataDir) {
				if v != "" {
					stored = append(stored, k)
				}
			}
			slices.Sort(stored)
			if diff := cmp.Diff(tc.wantStored, stored); diff != "" {
				t.Errorf("keys stored on disk (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadSecretsRefusesWeakKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cfg     config.Config
		setting string
	}{
		{"SECRET_KEY not base64", config.Config{AuthMode: "dev", SecretKey: "not base64!"}, "SECRET_KEY"},
		{"SECRET_KEY of 31 bytes", config.Config{AuthMode: "dev", SecretKey: key(31, 'x')}, "SECRET_KEY"},
		{"SECRET_KEY as URL-safe base64", config.Config{AuthMode: "dev", SecretKey: base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))}, "SECRET_KEY"},
		{"AUTH_DEV_KEY of 16 bytes", config.Config{AuthMode: "dev", SecretKey: key(32, 'r'), AuthDevKey: key(16, 'd')}, "AUTH_DEV_KEY"},
		{"on Azure without SECRET_KEY", config.Config{FunctionsPort: "34567", AuthMode: "jwks"}, "SECRET_KEY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.DataDir = t.TempDir()
			_, err := tc.cfg.LoadSecrets()
			if err == nil {
				t.Fatal("LoadSecrets error = nil, want one")
			}
			if !strings.HasPrefix(err.Error(), tc.setting+": ") {
				t.Errorf("LoadSecrets error %q does not name %s", err, tc.setting)
			}
			if _, err := os.Stat(filepath.Join(tc.cfg.DataDir, "secrets.json")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("secrets.json written although a key was refused (stat: %v)", err)
			}
		})
	}
}

func TestLoadSecretsOnAzureKeepsNothingOnDisk(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := &config.Config{FunctionsPort: "34567", DataDir: dir, AuthMode: "jwks", SecretKey: key(32, 'r')}
	s, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatalf("LoadSecrets: %v", err)
	}
	if base64.StdEncoding.EncodeToString(s.Root) != key(32, 'r') || s.DevJWT != nil {
		t.Errorf("LoadSecrets = %+v, want the environment's SECRET_KEY and no dev key", s)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data dir created on Azure (stat: %v)", err)
	}
}

// TestLoadSecretsConcurrentFirstStartsAgree starts many processes' worth of
// LoadSecrets at once on an empty DATA_DIR: exactly one generated key set is
// kept on disk, and every caller uses it.
func TestLoadSecretsConcurrentFirstStartsAgree(t *testing.T) {
	t.Parallel()
	cfg := config.Config{DataDir: filepath.Join(t.TempDir(), "data"), AuthMode: "dev"}
	const n = 16
	roots := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := cfg.LoadSecrets()
			if err != nil {
				t.Errorf("LoadSecrets %d: %v", i, err)
				return
			}
			roots[i] = base64.StdEncoding.EncodeToString(s.Root)
		})
	}
	wg.Wait()
	stored := storedSecrets(t, cfg.DataDir)["SecretKey"]
	for i, r := range roots {
		if r != stored {
			t.Errorf("caller %d uses a root key that is not the stored one", i)
		}
	}
}
