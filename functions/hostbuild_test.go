package main

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestHostBuildsRefuseWhatTheyLeaveOut starts each host's build with a
// configuration that needs what the build left out: it stops at start with
// one line naming the setting and the build tag, and serves nothing.
func TestHostBuildsRefuseWhatTheyLeaveOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the tagged binaries; skipped with -short")
	}
	t.Parallel()
	const cosmosKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
	cosmosByKey := []string{"STORE_BACKEND=cosmos", "COSMOS_AUTH=key", "COSMOS_ENDPOINT=https://127.0.0.1:9/", "COSMOS_KEY=" + cosmosKey}
	lambda := append([]string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:9", "AUTH_MODE=jwks", "AUTH_JWKS_URL=https://login.example.com/keys",
		"AUTH_ISSUER=https://issuer.example.com", "AUTH_AUDIENCE=privops", "SECRET_KEY=" + strings.Repeat("A", 44)}, cosmosByKey...)
	serviceBus := []string{"QUEUE_BACKEND=servicebus", "SERVICEBUS_CONNECTION_STRING=Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a"}
	azureBlob := []string{"BLOB_BACKEND=azure", "BLOB_CONNECTION_STRING=UseDevelopmentStorage=true"}
	cases := []struct {
		name, tags string
		env        []string
		want       []string // in the first line of stderr
	}{
		{"functions: Lambda", "privops_functions", lambda, []string{"AWS_LAMBDA_RUNTIME_API", "-tags privops_functions", "the AWS Lambda host"}},
		{"functions: SQS", "privops_functions", append(slices.Clone(lambda), "QUEUE_BACKEND=sqs"), []string{"AWS_LAMBDA_RUNTIME_API", "privops_functions"}},
		{"lambda: Service Bus", "privops_lambda", append(slices.Clone(lambda), serviceBus...), []string{"QUEUE_BACKEND=servicebus", "-tags privops_lambda", "Service Bus"}},
		{"lambda: Blob storage", "privops_lambda", append(slices.Clone(lambda), azureBlob...), []string{"BLOB_BACKEND=azure", "privops_lambda", "Blob storage"}},
		{"lambda: Cosmos DB by identity", "privops_lambda", append(slices.Clone(lambda), "COSMOS_AUTH=identity", "COSMOS_KEY="), []string{"COSMOS_AUTH=identity", "privops_lambda", "COSMOS_AUTH=key"}},
		{"standalone: Cosmos DB", "privops_standalone", cosmosByKey, []string{"STORE_BACKEND=cosmos", "-tags privops_standalone", "Cosmos DB"}},
		{"standalone: Service Bus", "privops_standalone", serviceBus, []string{"QUEUE_BACKEND=servicebus", "privops_standalone"}},
		{"standalone: Blob storage", "privops_standalone", azureBlob, []string{"BLOB_BACKEND=azure", "privops_standalone"}},
		{"standalone: Lambda", "privops_standalone", lambda, []string{"AWS_LAMBDA_RUNTIME_API", "privops_standalone"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			cmd := exec.Command(binaryWithTags(t, tc.tags))
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATA_DIR=" + data, "HTTP_ADDR=127.0.0.1:0"}, tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
				t.Fatalf("exit code %d (%v), want 1; stderr:\n%s", code, err, stderr.String())
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			for _, w := range tc.want {
				if !strings.HasPrefix(first, "privops: ") || !strings.Contains(first, w) {
					t.Errorf("first line of stderr = %q, want it to name %s", first, w)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout before the error: %q", stdout.String())
			}
			// Refused before anything was opened: no database in DATA_DIR.
			if entries, _ := os.ReadDir(data); len(entries) != 0 {
				t.Errorf("DATA_DIR has %d entries after the refusal, want none", len(entries))
			}
		})
	}
}
