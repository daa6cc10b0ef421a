//go:build !privops_lambda && !privops_standalone

package main

import (
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// azureCredential is the one Microsoft Entra ID credential of the process,
// shared by every Azure adapter that authenticates with an identity (Cosmos DB,
// Service Bus, Blob storage). It is built on first use, so a configuration that
// uses keys or connection strings everywhere never builds one. One credential
// means one token cache per resource scope and one managed-identity probe at
// start, where three DefaultAzureCredential chains each probed on their own.
type azureCredential struct {
	// build makes the credential; azidentity's DefaultAzureCredential when nil
	// (the Function App's managed identity, AZURE_CLIENT_ID for a
	// user-assigned one, a developer's az login locally). Tests count calls.
	build func() (azcore.TokenCredential, error)

	once sync.Once
	cred azcore.TokenCredential
	err  error
}

// get returns the shared credential, building it on the first call.
func (c *azureCredential) get() (azcore.TokenCredential, error) {
	c.once.Do(func() {
		build := c.build
		if build == nil {
			build = func() (azcore.TokenCredential, error) { return azidentity.NewDefaultAzureCredential(nil) }
		}
		c.cred, c.err = build()
	})
	return c.cred, c.err
}
