package cosmos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/storetest"
)

// The Cosmos runs are switched on by COSMOS_ENDPOINT (with COSMOS_KEY; the
// emulator takes any key). `go tool -modfile=tools/task/go.mod task test` starts @vercel/cosmosdb-server
// and sets them, with COSMOS_EMULATOR_CERT naming the emulator's certificate.
// Each run works in its own database, dropped at the end.

// emulatorKey is the well-known key of the Cosmos emulators.
const emulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

var (
	testDBOnce sync.Once
	testDB     string
	testDBErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testDB != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		tr, err := baseTransport()
		var s *Store
		if err == nil {
			s, err = New(testConfig(&recorder{next: tr}))
		}
		if err == nil {
			s.db, _ = s.client.NewDatabase(testDB)
			err = s.drop(ctx)
			s.Close()
		}
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "drop test database %s: %v\n", testDB, err)
		}
	}
	os.Exit(code)
}

// requireCosmos skips tb unless a Cosmos endpoint is configured.
func requireCosmos(tb testing.TB) {
	tb.Helper()
	if os.Getenv("COSMOS_ENDPOINT") == "" {
		tb.Skip("COSMOS_ENDPOINT is not set: no Cosmos DB to run against " +
			"(`go tool -modfile=tools/task/go.mod task test` starts the @vercel/cosmosdb-server emulator and sets it)")
	}
}

// testConfig is the configuration for the endpoint under test, with rec as
// the transport when given. The emulator is reached through the pinned
// emulator transport.
func testConfig(rec *recorder) Config {
	cfg := Config{Endpoint: os.Getenv("COSMOS_ENDPOINT"), Auth: AuthKey, Key: os.Getenv("COSMOS_KEY"),
		Database: testDB, MaxRetries: 8}
	if cfg.Key == "" {
		cfg.Key = emulatorKey
	}
	if rec != nil {
		cfg.Transport = rec
	}
	return cfg
}

// newTestStore returns a store on the run's database whose every HTTP call
// goes through the returned recorder. The first call creates the database.
func newTestStore(tb testing.TB) (*Store, *recorder) {
	tb.Helper()
	requireCosmos(tb)
	tr, err := baseTransport()
	if err != nil {
		tb.Fatal(err)
	}
	rec := &recorder{next: tr}
	testDBOnce.Do(func() {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		testDB = "privops-test-" + hex.EncodeToString(b)
		s, err := New(testConfig(rec))
		if err != nil {
			testDBErr = err
			return
		}
		testDBErr = s.Provision(tb.Context())
	})
	if testDBErr != nil {
		tb.Fatalf("provision test database: %v", testDBErr)
	}
	s, err := New(testConfig(rec))
	if err != nil {
		tb.Fatalf("new store: %v", err)
	}
	tb.Cleanup(s.Close)
	rec.take()
	return s, rec
}

// baseTransport is the emulator transport when COSMOS_EMULATOR_CERT is set,
// else the default one (real Cosmos, full TLS verification).
func baseTransport() (policy.Transporter, error) {
	if cert := os.Getenv("COSMOS_EMULATOR_CERT"); cert != "" {
		return newEmulatorTransport(os.Getenv("COSMOS_ENDPOINT"), cert)
	}
	return http.DefaultClient, nil
}

// emulated reports whether the run is against @vercel/cosmosdb-server.
func emulated() bool { return os.Getenv("COSMOS_EMULATOR_CERT") != "" }

func TestStore(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	storetest.Run(t, func(testing.TB) privacy.Store { return s })
}

// randomID returns 8 random hex characters for ids no other run uses.
func randomID(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// describe renders calls as "kind container status bytes" for the test log.
func describe(calls []call) string {
	var b strings.Builder
	for i, c := range calls {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s %d", c.Kind, c.Container, c.Status)
		if c.Bytes > 0 {
			fmt.Fprintf(&b, " (%d B)", c.Bytes)
		}
	}
	return b.String()
}

// drop deletes the store's database with everything in it (tests only).
func (s *Store) drop(ctx context.Context) error {
	if _, err := s.db.Delete(ctx, nil); err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("drop database %s: %w", s.db.ID(), translate(err))
	}
	return nil
}
