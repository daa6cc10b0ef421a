package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/logging"
)

// TestBuildPicksTheStore: STORE_BACKEND picks the store the functions are
// wired to; with Cosmos DB the queue still comes from the SQLite file. Building
// makes no call to Cosmos (the endpoint here is unreachable).
func TestBuildPicksTheStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backend    string
		wantCosmos bool
	}{{"sqlite", false}, {"cosmos", true}} {
		t.Run(tc.backend, func(t *testing.T) {
			t.Parallel()
			cfg := configIn(t, t.TempDir())
			cfg.StoreBackend = tc.backend
			cfg.CosmosEndpoint, cfg.CosmosDatabase, cfg.CosmosAuth = "https://127.0.0.1:1/", "privops", "key"
			cfg.CosmosKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
			a, err := build(t.Context(), cfg, logging.New(io.Discard, "error"))
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			defer a.Close()
			if got := a.cosmos != nil; got != tc.wantCosmos {
				t.Errorf("STORE_BACKEND=%s: Cosmos store wired: %t", tc.backend, got)
			}
			if a.db == nil {
				t.Error("no SQLite file for the built-in queue")
			}
		})
	}
}

// TestCloudDeploymentOpensNoSQLiteFile: on Cosmos DB with Service Bus the
// composition root opens no embedded SQLite file (no file, no migrations at
// start); the embedded store or the built-in queue each open it.
func TestCloudDeploymentOpensNoSQLiteFile(t *testing.T) {
	t.Parallel()
	cosmos := func(c *config.Config) {
		c.StoreBackend, c.CosmosAuth, c.CosmosEndpoint, c.CosmosKey = "cosmos", "key",
			"https://acct.documents.azure.com:443/", "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
	}
	serviceBus := func(c *config.Config) {
		c.QueueBackend, c.ServiceBusConnectionString = "servicebus",
			"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0"
	}
	tests := []struct {
		name   string
		set    []func(*config.Config)
		opened bool
	}{
		{"Cosmos DB and Service Bus", []func(*config.Config){cosmos, serviceBus}, false},
		{"Cosmos DB and the built-in queue", []func(*config.Config){cosmos}, true},
		{"the embedded store and Service Bus", []func(*config.Config){serviceBus}, true},
		{"the embedded default", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := configIn(t, t.TempDir())
			for _, set := range tt.set {
				set(cfg)
			}
			a, err := build(t.Context(), cfg, logging.New(io.Discard, "error"))
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			defer a.Close()
			_, statErr := os.Stat(filepath.Join(cfg.DataDir, "privops.db"))
			if opened := a.db != nil; opened != tt.opened || (statErr == nil) != tt.opened {
				t.Errorf("embedded store opened %v, privops.db there %v (%v); want %v", opened, statErr == nil, statErr, tt.opened)
			}
		})
	}
}
