//go:build !privops_standalone

package main

import (
	"fmt"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/cosmos"
	"github.com/privops/privops/shared/privacy"
)

// This build has the Cosmos DB store (build.go).
const hasCosmos = true

// cosmosState is what the app keeps of the Cosmos DB store it opened.
type cosmosState struct {
	cosmos *cosmos.Store // the store when STORE_BACKEND=cosmos
}

// closeCosmos closes the Cosmos DB client, if one was opened.
func (a *app) closeCosmos() {
	if a.cosmos != nil {
		a.cosmos.Close()
	}
}

// openCosmos opens the Cosmos DB store (no network call until the first
// operation).
func (a *app) openCosmos() (privacy.Store, error) {
	cfg := a.cfg
	ccfg := cosmos.Config{Endpoint: cfg.CosmosEndpoint, Database: cfg.CosmosDatabase, Auth: cfg.CosmosAuth, Key: cfg.CosmosKey}
	if cfg.CosmosAuth == cosmos.AuthIdentity {
		cred, err := a.entraCredential()
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

// cosmosBreachSend is the Cosmos adapter's breach fan-out store (its own
// breachsend container); false when the store is not Cosmos DB.
func (a *app) cosmosBreachSend() (breachsend.Store, bool) {
	if a.cosmos == nil {
		return nil, false
	}
	return a.cosmos.BreachSend(), true
}
