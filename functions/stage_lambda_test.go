package main

import (
	"archive/zip"
	"debug/buildinfo"
	"debug/elf"
	"path/filepath"
	"testing"
)

// TestStageLambda runs `go tool -modfile=tools/task/go.mod task stage-lambda`
// into a temporary folder and checks the zip is what the provided.al2023
// runtime runs: one executable `bootstrap` at the root, a static linux/arm64
// ELF built with -tags privops_lambda, linking Cosmos DB and the AWS SDK but
// none of the Azure parts a Lambda function cannot use (README, Builds).
func TestStageLambda(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: staging builds the linux/arm64 bootstrap with `go tool -modfile=tools/task/go.mod task stage-lambda`, which takes tens of seconds")
	}
	build := runTask(t, "stage-lambda")

	zr, err := zip.OpenReader(filepath.Join(build, "lambda.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Fatalf("lambda.zip holds %q, want only bootstrap", names)
	}
	if m := zr.File[0].Mode(); m.Perm()&0o111 != 0o111 || zr.File[0].CreatorVersion>>8 != 3 {
		t.Errorf("bootstrap in the zip has mode %s (creator %d), want 0755 from a Unix creator", m, zr.File[0].CreatorVersion>>8)
	}

	exe := filepath.Join(build, "lambda", "bootstrap")
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatalf("bootstrap is not an ELF file: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %s %s, want an EM_AARCH64 ET_EXEC executable", f.Machine, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("bootstrap asks for a dynamic loader: it must be static (CGO_ENABLED=0)")
		}
	}
	info, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true", "-tags": "privops_lambda"}
	for _, s := range info.Settings {
		if w, ok := want[s.Key]; ok && s.Value == w {
			delete(want, s.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("bootstrap was not built with %v (build settings %v)", want, info.Settings)
	}
	linked := map[string]bool{}
	for _, d := range info.Deps {
		linked[d.Path] = true
	}
	for _, m := range []string{"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos", "github.com/aws/aws-sdk-go-v2/service/sqs", "github.com/aws/aws-lambda-go"} {
		if !linked[m] {
			t.Errorf("bootstrap does not link %s, which the Lambda host needs", m)
		}
	}
	for _, m := range []string{"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus", "github.com/Azure/go-amqp",
		"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob", "github.com/Azure/azure-sdk-for-go/sdk/azidentity",
		"github.com/AzureAD/microsoft-authentication-library-for-go"} {
		if linked[m] {
			t.Errorf("bootstrap links %s, which a Lambda function cannot use", m)
		}
	}
}
