//go:build privops_noazure

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	retentiontimer "github.com/privops/privops/functions/retention"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/privacy"
)

// errNoAzure is what a binary built without the Azure SDK answers when the
// configuration names an Azure adapter: at start, before anything is served.
var errNoAzure = errors.New("this binary was built with -tags privops_noazure, without the Azure SDK (Cosmos DB, Service Bus, Blob storage): use a build without that tag (README, Builds)")

// checkAzureBuild refuses a configuration that needs what this build left out.
func checkAzureBuild(cfg *config.Config) error {
	switch {
	case cfg.StoreBackend == "cosmos":
		return fmt.Errorf("STORE_BACKEND=cosmos: %w", errNoAzure)
	case cfg.QueueBackend == "servicebus":
		return fmt.Errorf("QUEUE_BACKEND=servicebus: %w", errNoAzure)
	case cfg.BlobBackend == "azure":
		return fmt.Errorf("BLOB_BACKEND=azure: %w", errNoAzure)
	}
	return nil
}

// azureState is empty: this build opens no Azure adapter.
type azureState struct{}

func (a *app) closeAzure() {}

func (a *app) openCosmos() (privacy.Store, error) {
	return nil, fmt.Errorf("STORE_BACKEND=cosmos: %w", errNoAzure)
}

func (a *app) cosmosBreachSend() (breachsend.Store, bool) { return nil, false }

func (a *app) openServiceBus() (privacy.Publisher, error) {
	return nil, fmt.Errorf("QUEUE_BACKEND=servicebus: %w", errNoAzure)
}

func (a *app) serviceBusDeadLetters() retentiontimer.DeadLetters { return nil }

func (a *app) replayServiceBusDeadLetters(context.Context, io.Writer, string) (bool, error) {
	return false, nil
}

func (a *app) openAzureBlobs(context.Context) (privacy.Blobs, error) {
	return nil, fmt.Errorf("BLOB_BACKEND=azure: %w", errNoAzure)
}
