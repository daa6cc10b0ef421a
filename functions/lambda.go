//go:build !privops_functions && !privops_standalone

package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/privops/privops/shared/lambdahost"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqs"
)

// This build has the AWS Lambda host and the SQS publisher (build.go).
const hasLambda = true

// serveLambda hands every function to the AWS Lambda runtime: HTTP API
// requests, SQS batches and EventBridge schedules all arrive at this one
// process. Use it when lambdahost.Detected(os.LookupEnv). It returns only an
// error from building the host: once started, the runtime loop never returns,
// so the adapters are closed on the SIGTERM Lambda sends before it shuts the
// execution environment down, not by the caller's deferred Close.
func (a *app) serveLambda(ctx context.Context) error {
	var once sync.Once
	h, err := lambdahost.New(a.funcs, a.specs, a.log,
		lambdahost.WithShutdown(func() { once.Do(a.Close) }))
	if err != nil {
		return err
	}
	h.Start(ctx)
	return nil
}

// openSQS returns the SQS publisher (QUEUE_BACKEND=sqs); region and
// credentials come from the Lambda environment.
func openSQS(ctx context.Context) (privacy.Publisher, error) {
	p, err := sqs.New(ctx, sqs.Options{})
	if err != nil {
		return nil, fmt.Errorf("QUEUE_BACKEND=sqs: %w", err)
	}
	return p, nil
}
