package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/privops/privops/shared/config"
)

// refusingCredential fails every token request, so no adapter reaches the
// network; it counts the requests.
type refusingCredential struct{ calls atomic.Int64 }

var errNoToken = errors.New("test credential issues no tokens")

func (c *refusingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	return azcore.AccessToken{}, errNoToken
}

// TestOneAzureCredentialForEveryAdapter: with Cosmos DB, Service Bus and Blob
// storage all on an identity, the composition root builds one credential and
// every adapter uses it (the blob adapter's container check asks it for a
// token).
func TestOneAzureCredentialForEveryAdapter(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.StoreBackend, cfg.CosmosAuth, cfg.CosmosEndpoint = "cosmos", "identity", "https://acct.documents.azure.com:443/"
	cfg.QueueBackend, cfg.ServiceBusConnectionString, cfg.ServiceBusNamespace = "servicebus", "", "ns.servicebus.windows.net"
	cfg.BlobBackend, cfg.BlobConnectionString, cfg.BlobAccountURL = "azure", "", "https://acct.blob.core.windows.net"

	var built atomic.Int64
	cred := &refusingCredential{}
	a := &app{cfg: cfg}
	a.azure.build = func() (azcore.TokenCredential, error) { built.Add(1); return cred, nil }
	defer a.Close()

	if _, err := a.openStore(); err != nil {
		t.Fatalf("openStore: %v", err)
	}
	if _, err := a.openPublisher(); err != nil {
		t.Fatalf("openPublisher: %v", err)
	}
	_, err = a.openBlobs(t.Context())
	if !errors.Is(err, errNoToken) && (err == nil || !strings.Contains(err.Error(), errNoToken.Error())) {
		t.Fatalf("openBlobs: got %v, want the shared credential's refusal", err)
	}
	if n := built.Load(); n != 1 {
		t.Errorf("credentials built: got %d, want 1", n)
	}
	if cred.calls.Load() == 0 {
		t.Error("the blob adapter did not ask the shared credential for a token")
	}
}

// TestNoAzureCredentialWithoutIdentity: keys and connection strings never
// build a credential (no managed-identity probe at start).
func TestNoAzureCredentialWithoutIdentity(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.StoreBackend, cfg.CosmosAuth, cfg.CosmosEndpoint, cfg.CosmosKey = "cosmos", "key",
		"https://acct.documents.azure.com:443/", "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
	cfg.QueueBackend, cfg.ServiceBusConnectionString = "servicebus",
		"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0"
	var built atomic.Int64
	a := &app{cfg: cfg}
	a.azure.build = func() (azcore.TokenCredential, error) { built.Add(1); return &refusingCredential{}, nil }
	defer a.Close()
	if _, err := a.openStore(); err != nil {
		t.Fatalf("openStore: %v", err)
	}
	if _, err := a.openPublisher(); err != nil {
		t.Fatalf("openPublisher: %v", err)
	}
	if n := built.Load(); n != 0 {
		t.Errorf("credentials built: got %d, want 0", n)
	}
}
