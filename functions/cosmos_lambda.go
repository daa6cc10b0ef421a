//go:build privops_lambda && !privops_standalone

package main

import "github.com/Azure/azure-sdk-for-go/sdk/azcore"

// entraCredential refuses: the Lambda build has no Entra ID credential, and
// reaches Cosmos DB with its key (COSMOS_AUTH=key; checkBuild refuses the
// rest at start).
func (a *app) entraCredential() (azcore.TokenCredential, error) {
	return nil, leftOut("COSMOS_AUTH=identity", "the Entra ID credential (use COSMOS_AUTH=key)")
}
