//go:build privops_lambda || privops_standalone

package main

import (
	"context"
	"io"

	retentiontimer "github.com/privops/privops/functions/retention"
	"github.com/privops/privops/shared/privacy"
)

// This build has no Service Bus, no Blob storage and no Entra ID credential
// (build.go).
const hasAzure = false

type azureState struct{}

func (a *app) openServiceBus() (privacy.Publisher, error) {
	return nil, leftOut("QUEUE_BACKEND=servicebus", "Service Bus")
}

func (a *app) serviceBusDeadLetters() retentiontimer.DeadLetters { return nil }

func (a *app) replayServiceBusDeadLetters(context.Context, io.Writer, string) (bool, error) {
	return false, nil
}

func (a *app) openAzureBlobs(context.Context) (privacy.Blobs, error) {
	return nil, leftOut("BLOB_BACKEND=azure", "Azure Blob storage")
}
