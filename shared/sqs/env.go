package sqs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
)

// clientConfig makes the SQS client's configuration from o and the
// environment, as the Lambda runtime sets it. It reads the variables the
// SDK's default configuration reads for these settings, and no file:
//
//	AWS_REGION, else AWS_DEFAULT_REGION         the region (Options.Region first)
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,   the function role's credentials
//	AWS_SESSION_TOKEN                           (Options.Credentials first)
//	AWS_ENDPOINT_URL_SQS, else AWS_ENDPOINT_URL another endpoint (Options.Endpoint first)
//	AWS_MAX_ATTEMPTS                            attempts per call (Options.RetryMaxAttempts first)
//	AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT  true for FIPS or dual-stack endpoints
//
// It is not config.LoadDefaultConfig: that links every credential source
// the SDK knows (SSO, IAM Identity Center, STS, console sign-in, processes,
// container and instance metadata), whose initialisers, the services'
// endpoint tables above all, cost the Lambda and full builds about 6 ms of
// every start and 2.4 MB (issue 16), and the suite sends to SQS only under
// Lambda, where the role's credentials are in the environment.
func clientConfig(o Options, getenv func(string) string) (aws.Config, func(*awssqs.Options), error) {
	get := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	cfg := aws.Config{Region: o.Region, Credentials: o.Credentials, RetryMaxAttempts: o.RetryMaxAttempts}
	if cfg.Region == "" {
		cfg.Region = get("AWS_REGION", "AWS_DEFAULT_REGION")
	}
	if cfg.Region == "" {
		return aws.Config{}, nil, errors.New("no region: set Options.Region or AWS_REGION")
	}
	if cfg.Credentials == nil {
		id, secret := get("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"), get("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
		if id == "" || secret == "" {
			return aws.Config{}, nil, errors.New("no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the function's role)")
		}
		cfg.Credentials = credentials.StaticCredentialsProvider{Value: aws.Credentials{
			AccessKeyID: id, SecretAccessKey: secret, SessionToken: get("AWS_SESSION_TOKEN"), Source: "EnvConfigCredentials"}}
	}
	if cfg.RetryMaxAttempts <= 0 {
		if v := get("AWS_MAX_ATTEMPTS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return aws.Config{}, nil, fmt.Errorf("AWS_MAX_ATTEMPTS: %q is not a whole number above 0", v)
			}
			cfg.RetryMaxAttempts = n
		}
	}
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = get("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL")
	}
	var fips, dualStack bool
	for _, b := range []struct {
		name string
		on   *bool
	}{{"AWS_USE_FIPS_ENDPOINT", &fips}, {"AWS_USE_DUALSTACK_ENDPOINT", &dualStack}} {
		if v := get(b.name); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return aws.Config{}, nil, fmt.Errorf("%s: %q is not true or false", b.name, v)
			}
			*b.on = on
		}
	}
	return cfg, func(so *awssqs.Options) {
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
		}
		if fips {
			so.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
		if dualStack {
			so.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		}
	}, nil
}
