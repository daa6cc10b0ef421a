package main

import (
	"io"
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
			cfg, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			cfg.DataDir = t.TempDir()
			cfg.MailOutboxDir = filepath.Join(cfg.DataDir, "outbox")
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
