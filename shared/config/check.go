package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/privops/privops/shared/ncrontab"
)

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
