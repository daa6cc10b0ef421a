// Package cosmos is the production privacy.Store: Azure Cosmos DB for NoSQL
// through azcosmos. Every document carries tenantId, the partition key of every
// container, so each call of a tenant-scoped method stays in one partition:
// point reads and ETag-guarded writes on the hot paths, single-partition queries
// for listings, and cross-partition queries only for ListTenants and the breach
// fan-out's Expired (breachsend_ledger.go), which only the timers call. It is called by every function through the dsr service; its side
// effects are the documents described in layout.go.
//
// Consistency: the account's default, Session. The SDK carries no session
// token from one call to the next, so a read may lag a write made a moment
// before by another instance; every update is guarded by the ETag it read, so
// a stale read costs a conflict and a retry, never a lost update. Where a read
// must be as fresh as another (the audit append), the store passes the first
// read's session token to the second.
//
// Errors follow the port: privacy.ErrNotFound, privacy.ErrConflict and
// privacy.ErrUnavailable wrapped with the operation (translated from the SDK in
// errors.go, the one place that does), and a *privacy.Error "invalid-cursor" for
// a page cursor that is not valid. Error texts carry ids and status codes, never
// a document or a response body.
package cosmos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/privacy"
)

var _ privacy.Store = (*Store)(nil)

// Auth modes.
const (
	// AuthKey signs requests with the account key (COSMOS_KEY). For the
	// emulator and for accounts where key access is still enabled.
	AuthKey = "key"
	// AuthIdentity uses Microsoft Entra ID through Config.Credential (the
	// composition root's DefaultAzureCredential: the Function App's managed
	// identity on Azure, AZURE_CLIENT_ID picking a user-assigned one, a
	// developer's az login locally). The identity needs the Cosmos DB
	// Built-in Data Contributor role.
	AuthIdentity = "identity"
)

// DefaultDatabase is the database the store uses when Config.Database is empty.
const DefaultDatabase = "privops"

// Config says which account to use and how to reach it.
type Config struct {
	// Endpoint is the account URL, e.g. https://<account>.documents.azure.com:443/.
	Endpoint string
	// Database is the database id; DefaultDatabase when empty.
	Database string
	// Auth is AuthKey or AuthIdentity.
	Auth string
	// Key is the account key (AuthKey only). A secret: never logged.
	Key string
	// Credential is the Entra ID credential of AuthIdentity (required for
	// it). The composition root shares one across the Azure adapters; the
	// adapter does not build its own, so a build that reaches Cosmos DB with
	// its key links no Entra ID library (README, Builds).
	Credential azcore.TokenCredential
	// Transport, when set, carries every HTTP call the SDK makes. Tests use it
	// to count calls, inject throttling and trust the emulator's certificate.
	Transport policy.Transporter
	// MaxRetries bounds the retries of one call that was throttled (429) or,
	// for reads and queries, found the service unavailable (503, 408); 0 means 6.
	MaxRetries int
	// MaxRetryDelay caps the wait between two retries; a throttled answer
	// asking to wait longer is not retried but returned as ErrUnavailable, so
	// the caller (a queue redelivery, an HTTP 503) decides. 0 means 5s.
	MaxRetryDelay time.Duration
	// Now is the clock inbound records expire by (default time.Now).
	Now func() time.Time
}

// Store is the privacy.Store on one Cosmos database. It is safe for
// concurrent use. Build it with New, release it with Close.
type Store struct {
	client   *azcosmos.Client
	db       *azcosmos.DatabaseClient
	tenants  *azcosmos.ContainerClient
	requests *azcosmos.ContainerClient
	audit    *azcosmos.ContainerClient
	// breachsend is the breach fan-out's container (breachsend.go).
	breachsend *azcosmos.ContainerClient
	now        func() time.Time
}

// New builds a store for cfg. It makes no network call: a wrong endpoint or
// credential shows on the first operation.
func New(cfg Config) (*Store, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("cosmos: endpoint is required")
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	opts := &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry:     retryOptions(cfg.MaxRetries, cfg.MaxRetryDelay),
		Transport: cfg.Transport,
	}}
	var client *azcosmos.Client
	switch cfg.Auth {
	case AuthKey:
		if cfg.Key == "" {
			return nil, errors.New("cosmos: key auth needs the account key")
		}
		cred, err := azcosmos.NewKeyCredential(cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("cosmos: account key: %w", err)
		}
		if client, err = azcosmos.NewClientWithKey(cfg.Endpoint, cred, opts); err != nil {
			return nil, fmt.Errorf("cosmos: client: %w", err)
		}
	case AuthIdentity:
		if cfg.Credential == nil {
			return nil, errors.New("cosmos: identity auth needs the Entra ID credential")
		}
		var err error
		if client, err = azcosmos.NewClient(cfg.Endpoint, cfg.Credential, opts); err != nil {
			return nil, fmt.Errorf("cosmos: client: %w", err)
		}
	default:
		return nil, fmt.Errorf("cosmos: auth %q is not %q or %q", cfg.Auth, AuthKey, AuthIdentity)
	}
	s, err := open(client, cfg.Database)
	if err != nil {
		client.Close()
		return nil, err
	}
	if cfg.Now != nil {
		s.now = cfg.Now
	}
	return s, nil
}

func open(client *azcosmos.Client, database string) (*Store, error) {
	db, err := client.NewDatabase(database)
	if err != nil {
		return nil, fmt.Errorf("cosmos: database %s: %w", database, err)
	}
	s := &Store{client: client, db: db, now: time.Now}
	for _, c := range []struct {
		name string
		dst  **azcosmos.ContainerClient
	}{{TenantsContainer, &s.tenants}, {RequestsContainer, &s.requests}, {AuditContainer, &s.audit}, {BreachSendContainer, &s.breachsend}} {
		if *c.dst, err = db.NewContainer(c.name); err != nil {
			return nil, fmt.Errorf("cosmos: container %s: %w", c.name, err)
		}
	}
	return s, nil
}

// Close releases the client's shared caches. The store must not be used after.
func (s *Store) Close() { s.client.Close() }

// retryOptions bounds the SDK's retry policy: exponential backoff from 100ms,
// or the service's x-ms-retry-after-ms, capped at maxDelay, at most maxRetries
// times. Which answers are retried is shouldRetry's decision.
func retryOptions(maxRetries int, maxDelay time.Duration) policy.RetryOptions {
	if maxRetries <= 0 {
		maxRetries = 6
	}
	if maxDelay <= 0 {
		maxDelay = 5 * time.Second
	}
	return policy.RetryOptions{MaxRetries: int32(maxRetries), RetryDelay: 100 * time.Millisecond,
		MaxRetryDelay: maxDelay, ShouldRetry: shouldRetry}
}

// shouldRetry says whether the SDK's retry policy tries a call again. A
// throttled call (429) or a "retry with" (449) was refused before it ran, so
// it is always safe to repeat. Unavailable (503), timed out (408) and 5xx
// answers are repeated only for reads and queries: a write may have been
// applied, and repeating a create would turn its success into a conflict. A
// transport error is left to the Cosmos policy beneath, which already retried
// it where it is safe (reads, and writes that provably never left).
func shouldRetry(resp *http.Response, err error) bool {
	if err != nil || resp == nil {
		return false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, 449:
		return true
	case http.StatusServiceUnavailable, http.StatusRequestTimeout, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusGatewayTimeout:
		return resp.Request != nil && idempotent(resp.Request)
	}
	return false
}

// idempotent reports whether a Cosmos call only reads: a GET, or a query.
func idempotent(r *http.Request) bool {
	return r.Method == http.MethodGet || isQuery(r)
}

// isQuery reports whether r is a query: a POST of application/query+json,
// which the SDK also marks with x-ms-documentdb-query.
func isQuery(r *http.Request) bool {
	return r.Header.Get("x-ms-documentdb-query") != "" ||
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/query+json")
}

// Ping reports whether the account answers with this store's database: one
// point read of the database resource (about 1 RU), the readiness check of a
// host that uses this store.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.db.Read(ctx, nil); err != nil {
		return fmt.Errorf("ping cosmos: %w", translate(err))
	}
	return nil
}
