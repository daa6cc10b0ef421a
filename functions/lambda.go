package main

import (
	"context"
	"sync"

	"github.com/privops/privops/shared/lambdahost"
)

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
