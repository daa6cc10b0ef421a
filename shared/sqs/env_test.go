package sqs

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
)

// TestClientConfig: the region, credentials, endpoint, attempts and endpoint
// variants come from Options first, then from the variables the Lambda
// runtime (or an operator) sets, with the SDK's names and precedence; a
// missing region or missing credentials, or a malformed value, is an error
// naming what to set, never echoing a secret.
func TestClientConfig(t *testing.T) {
	t.Parallel()
	lambda := map[string]string{"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cret", "AWS_SESSION_TOKEN": "tok"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range lambda {
			m[k] = v
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	type want struct {
		region, keyID, secret, token, source, endpoint string
		attempts                                       int
		fips, dualStack                                bool
	}
	envCreds := want{region: "eu-west-1", keyID: "ASIAEXAMPLE", secret: "s3cret", token: "tok", source: "EnvConfigCredentials"}
	cases := []struct {
		name    string
		o       Options
		env     map[string]string
		want    want
		wantErr string
	}{
		{name: "the Lambda environment", env: lambda, want: envCreds},
		{name: "AWS_DEFAULT_REGION without AWS_REGION", env: with(map[string]string{"AWS_REGION": ""}),
			want: want{region: "us-east-1", keyID: "ASIAEXAMPLE", secret: "s3cret", token: "tok", source: "EnvConfigCredentials"}},
		{name: "options first", env: with(map[string]string{"AWS_ENDPOINT_URL_SQS": "http://env.example", "AWS_MAX_ATTEMPTS": "5"}),
			o: Options{Region: "ap-south-1", Endpoint: "http://localstack:4566", RetryMaxAttempts: 2,
				Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "other", "")},
			want: want{region: "ap-south-1", keyID: "AKIDTEST", secret: "other", source: "StaticCredentials", endpoint: "http://localstack:4566", attempts: 2}},
		{name: "the service's endpoint variable before the general one",
			env:  with(map[string]string{"AWS_ENDPOINT_URL": "http://all.example", "AWS_ENDPOINT_URL_SQS": "http://sqs.example", "AWS_MAX_ATTEMPTS": "4"}),
			want: want{region: "eu-west-1", keyID: "ASIAEXAMPLE", secret: "s3cret", token: "tok", source: "EnvConfigCredentials", endpoint: "http://sqs.example", attempts: 4}},
		{name: "the general endpoint variable", env: with(map[string]string{"AWS_ENDPOINT_URL": "http://all.example"}),
			want: want{region: "eu-west-1", keyID: "ASIAEXAMPLE", secret: "s3cret", token: "tok", source: "EnvConfigCredentials", endpoint: "http://all.example"}},
		{name: "FIPS and dual-stack endpoints", env: with(map[string]string{"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "TRUE"}),
			want: want{region: "eu-west-1", keyID: "ASIAEXAMPLE", secret: "s3cret", token: "tok", source: "EnvConfigCredentials", fips: true, dualStack: true}},
		{name: "long-lived keys without a session token", env: with(map[string]string{"AWS_SESSION_TOKEN": ""}),
			want: want{region: "eu-west-1", keyID: "ASIAEXAMPLE", secret: "s3cret", source: "EnvConfigCredentials"}},
		{name: "no region", env: with(map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}), wantErr: "no region: set Options.Region or AWS_REGION"},
		{name: "no secret", env: with(map[string]string{"AWS_SECRET_ACCESS_KEY": ""}), wantErr: "no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"},
		{name: "no key id", env: with(map[string]string{"AWS_ACCESS_KEY_ID": ""}), wantErr: "no credentials"},
		{name: "attempts not a number", env: with(map[string]string{"AWS_MAX_ATTEMPTS": "many"}), wantErr: `AWS_MAX_ATTEMPTS: "many" is not a whole number above 0`},
		{name: "attempts zero", env: with(map[string]string{"AWS_MAX_ATTEMPTS": "0"}), wantErr: "AWS_MAX_ATTEMPTS"},
		{name: "FIPS not a boolean", env: with(map[string]string{"AWS_USE_FIPS_ENDPOINT": "yes please"}), wantErr: `AWS_USE_FIPS_ENDPOINT: "yes please" is not true or false`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, opts, err := clientConfig(tc.o, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			creds, err := cfg.Credentials.Retrieve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var so awssqs.Options
			opts(&so)
			got := want{region: cfg.Region, keyID: creds.AccessKeyID, secret: creds.SecretAccessKey, token: creds.SessionToken,
				source: creds.Source, endpoint: aws.ToString(so.BaseEndpoint), attempts: cfg.RetryMaxAttempts,
				fips:      so.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled,
				dualStack: so.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled}
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); d != "" {
				t.Errorf("config (-want +got):\n%s", d)
			}
		})
	}
}
