//go:build !privops_lambda && !privops_standalone

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
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/servicebus"
	"github.com/privops/privops/shared/trigger"
)

// Service Bus, Blob storage and the one Entra ID credential the Azure
// adapters share (credential.go). The Lambda and standalone builds leave them
// out (azure_off.go, build.go); the Functions host itself needs no SDK.

// This build has Service Bus, Blob storage and the Entra ID credential.
const hasAzure = true

// azureState is what the app keeps of the Azure adapters it opened.
type azureState struct {
	sb *azservicebus.Client // when QUEUE_BACKEND=servicebus
	// azure is the one Entra ID credential the Azure adapters share.
	azure azureCredential
}

// entraCredential is the shared Entra ID credential, built on first use.
func (a *app) entraCredential() (azcore.TokenCredential, error) { return a.azure.get() }

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
		if cred, err = a.entraCredential(); err == nil {
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
		if cred, err = a.entraCredential(); err == nil {
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
