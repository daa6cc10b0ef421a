package main

import (
	"fmt"
	"runtime/debug"

	"github.com/privops/privops/shared/config"
)

// Each host gets a build that links only what it can use (README, Builds):
//
//	full        every host and adapter (no tag)
//	functions   -tags privops_functions: no Lambda host, no SQS
//	lambda      -tags privops_lambda: no Service Bus, no Blob storage, no
//	            Entra ID credential (Cosmos DB with key auth)
//	standalone  -tags privops_standalone: no cloud SDK at all
//
// The parts are switched by file: lambda.go or lambda_off.go (hasLambda),
// cosmos.go or cosmos_off.go (hasCosmos), azure.go or azure_off.go
// (hasAzure: Service Bus, Blob storage and the Entra ID credential).

// checkBuild refuses, before anything is opened, a configuration that needs
// a part this build left out, naming the setting and the build's tags.
func checkBuild(cfg *config.Config) error {
	switch {
	case !hasLambda && cfg.Lambda():
		return leftOut("AWS_LAMBDA_RUNTIME_API is set", "the AWS Lambda host")
	case !hasLambda && cfg.QueueBackend == "sqs":
		return leftOut("QUEUE_BACKEND=sqs", "SQS")
	case !hasCosmos && cfg.StoreBackend == "cosmos":
		return leftOut("STORE_BACKEND=cosmos", "Cosmos DB")
	case !hasAzure && cfg.StoreBackend == "cosmos" && cfg.CosmosAuth != "key":
		return leftOut("COSMOS_AUTH="+cfg.CosmosAuth, "the Entra ID credential (use COSMOS_AUTH=key)")
	case !hasAzure && cfg.QueueBackend == "servicebus":
		return leftOut("QUEUE_BACKEND=servicebus", "Service Bus")
	case !hasAzure && cfg.BlobBackend == "azure":
		return leftOut("BLOB_BACKEND=azure", "Azure Blob storage")
	}
	return nil
}

// leftOut is the error for a setting that needs a part this build left out.
func leftOut(setting, part string) error {
	return fmt.Errorf("%s: this binary was built with -tags %s, without %s: use the full build or this host's build (README, Builds)", setting, buildTags(), part)
}

// buildTags returns the -tags this binary was built with.
func buildTags() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-tags" {
				return s.Value
			}
		}
	}
	return "(unknown)"
}
