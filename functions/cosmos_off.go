//go:build privops_standalone

package main

import (
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// This build has no Cosmos DB store (build.go).
const hasCosmos = false

type cosmosState struct{}

func (a *app) closeCosmos() {}

func (a *app) openCosmos() (privacy.Store, error) {
	return nil, leftOut("STORE_BACKEND=cosmos", "Cosmos DB")
}

func (a *app) cosmosBreachSend() (breachsend.Store, bool) { return nil, false }
