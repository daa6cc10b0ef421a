//go:build !privops_noazure

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	retentiontimer "github.com/privops/privops/functions/retention"
	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/cosmos"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/servicebus"
	"github.com/privops/privops/shared/trigger"
)

// The Azure adapters: Cosmos DB, Service Bus and Blob storage, and the one
// Entra ID credential they share. A build with -tags privops_noazure links
// none of them (noazure.go); the Functions host itself needs no SDK.

// checkAzureBuild accepts every configuration: this build has the Azure SDK.
func checkAzureBuild(*config.Config) error { return nil }

// azureState is what the app keeps of the Azure adapters it opened.
type azureState struct {
	cosmos *cosmos.Store        // the store when STORE_BACKEND=cosmos
	sb     *azservicebus.Client // when QUEUE_BACKEND=servicebus
	// azure is the one Entra ID credential the Azure adapters share.
	azure azureCredential
}

// closeAzure closes the Cosmos DB client, if one was opened.
func (a *app) closeAzure() {
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
		cred, err := a.azure.get()
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

// openServiceBus opens the Service Bus publisher, with the connection string
// or else the shared credential.
func (a *app) openServiceBus() (privacy.Publisher, error) {
	cfg := a.cfg
	var client *azservicebus.Client
	var err error
	if cfg.ServiceBusConnectionString != "" {
		client, err = servicebus.NewClient(cfg.ServiceBusConnectionString)
	} else {
		var cred azcore.TokenCredential
		if cred, err = a.azure.get(); err == nil {
			client, err = servicebus.NewClientWithCredential(cfg.ServiceBusNamespace, cred)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("QUEUE_BACKEND=servicebus: %w", err)
	}
	p := servicebus.New(client)
	a.sb = client
	a.closers = append(a.closers, func() { _ = p.Close(context.Background()); _ = client.Close(context.Background()) })
	return p, nil
}

// serviceBusDeadLetters removes dead-lettered bodies from the Service Bus
// dead-letter queues; nil when the queue is not Service Bus.
func (a *app) serviceBusDeadLetters() retentiontimer.DeadLetters {
	if a.sb == nil {
		return nil
	}
	return &servicebus.DeadLetterKeeper{Client: a.sb}
}

// replayServiceBusDeadLetters receives the inbound queue's dead-letter queue
// and runs each message through the inbound pipeline; false when the queue is
// not Service Bus.
func (a *app) replayServiceBusDeadLetters(ctx context.Context, w io.Writer, queue string) (bool, error) {
	if a.sb == nil {
		return false, nil
	}
	fn := a.inbound.Queue()
	n, err := servicebus.DrainDeadLetters(ctx, a.sb, queue, func(ctx context.Context, m trigger.Message) error {
		err := fn(ctx, m)
		var rej *trigger.Rejection
		if errors.As(err, &rej) {
			return nil // recorded as rejected: it leaves the dead-letter queue for the admin API's list
		}
		return err
	})
	fmt.Fprintf(w, "dead letters of %s: %d handled, %d still failing\n", queue, n.Handled, n.Failed)
	return true, err
}

// openAzureBlobs opens the Azure Blob container (created if absent), with
// the connection string or else the shared credential.
func (a *app) openAzureBlobs(ctx context.Context) (privacy.Blobs, error) {
	cfg := a.cfg
	var b *blob.Azure
	var err error
	if cfg.BlobConnectionString != "" {
		b, err = blob.NewAzureFromConnectionString(cfg.BlobConnectionString, cfg.BlobContainer, nil)
	} else {
		var cred azcore.TokenCredential
		if cred, err = a.azure.get(); err == nil {
			b, err = blob.NewAzureWithCredential(cfg.BlobAccountURL, cfg.BlobContainer, cred, nil)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("BLOB_BACKEND=azure: %w", err)
	}
	if err := b.EnsureContainer(ctx); err != nil {
		return nil, fmt.Errorf("BLOB_BACKEND=azure: %w", err)
	}
	return b, nil
}
