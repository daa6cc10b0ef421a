//go:build privops_noaws

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/privacy"
)

// errNoAWS is what a binary built without the AWS parts answers when the
// environment asks for them: at start, before anything is served.
var errNoAWS = errors.New("this binary was built with -tags privops_noaws, without the AWS Lambda host and SQS: use a build without that tag (README, Builds)")

// checkAWSBuild refuses a configuration that needs what this build left out.
func checkAWSBuild(cfg *config.Config) error {
	switch {
	case cfg.Lambda():
		return fmt.Errorf("AWS_LAMBDA_RUNTIME_API is set: %w", errNoAWS)
	case cfg.QueueBackend == "sqs":
		return fmt.Errorf("QUEUE_BACKEND=sqs: %w", errNoAWS)
	}
	return nil
}

// serveLambda refuses: this build has no Lambda host.
func (a *app) serveLambda(context.Context) error { return errNoAWS }

// openSQS refuses: this build has no SQS publisher.
func openSQS(context.Context) (privacy.Publisher, error) {
	return nil, fmt.Errorf("QUEUE_BACKEND=sqs: %w", errNoAWS)
}
