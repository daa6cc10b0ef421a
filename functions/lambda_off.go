//go:build privops_functions || privops_standalone

package main

import (
	"context"

	"github.com/privops/privops/shared/privacy"
)

// This build has no AWS Lambda host and no SQS publisher (build.go).
const hasLambda = false

func (a *app) serveLambda(context.Context) error {
	return leftOut("AWS_LAMBDA_RUNTIME_API is set", "the AWS Lambda host")
}

func openSQS(context.Context) (privacy.Publisher, error) {
	return nil, leftOut("QUEUE_BACKEND=sqs", "SQS")
}
