package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/config"
)

// brokenConfig is an environment config.Load refuses.
var brokenConfig = []string{"STORE_BACKEND=dynamodb", "CODE_TTL=forever"}

// TestHelpAndVersionOnTheRealBinary: help and version answer, and exit 0,
// whatever the configuration (they failed on a broken one, and token --help
// exited 1).
func TestHelpAndVersionOnTheRealBinary(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want []string // on stdout
	}{
		{[]string{"--help"}, []string{"usage:", "privops token", "STORE_BACKEND"}},
		{[]string{"help"}, []string{"usage:", "DATA_DIR"}},
		{[]string{"-h"}, []string{"usage:"}},
		{[]string{"token", "--help"}, []string{"usage: privops token", "-tenant", "-operator", "-role", "-ttl"}},
		{[]string{"token", "-h"}, []string{"usage: privops token"}},
		{[]string{"token", "--tenant", "acme", "--help"}, []string{"usage: privops token"}},
		{[]string{"replay", "--help"}, []string{"usage: privops replay", "-dead-letters"}},
		{[]string{"version"}, []string{"privops ", "go1."}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(binary(t), tc.args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATA_DIR=" + t.TempDir()}, brokenConfig...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("privops %s: %v (exit %d)\nstderr: %s", strings.Join(tc.args, " "), err, cmd.ProcessState.ExitCode(), stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

// TestHelpListsEverySetting: the help is generated from config.Config, so it
// lists each setting the binary reads.
func TestHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	printHelp(&out)
	for _, s := range config.Settings() {
		if !strings.Contains(out.String(), "  "+s.Name+" ") {
			t.Errorf("privops help does not list %s", s.Name)
		}
	}
	if !strings.Contains(out.String(), "default privops-dev") {
		t.Error("privops help shows no defaults")
	}
}

// TestTokenNeverInventsAKey: privops token signs with the server's key, from
// AUTH_DEV_KEY or the server's DATA_DIR/secrets.json, and refuses, naming
// both, when there is none yet. It used to generate a key (and write it)
// that a server started elsewhere did not know, so its tokens were refused.
func TestTokenNeverInventsAKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AUTH_") || name == "SECRET_KEY" || name == "FUNCTIONS_CUSTOMHANDLER_PORT" || name == "AWS_LAMBDA_RUNTIME_API" {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("DATA_DIR", data)

	var out bytes.Buffer
	err := run(context.Background(), []string{"token", "--tenant", "acme"}, &out, io.Discard)
	if err == nil || !errors.Is(err, config.ErrNoDevKey) || !strings.Contains(err.Error(), "AUTH_DEV_KEY") || !strings.Contains(err.Error(), data) {
		t.Fatalf("token before the server made its keys = %v, want an error naming AUTH_DEV_KEY and %s", err, data)
	}
	if _, err := os.Stat(filepath.Join(data, "secrets.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token wrote a key file: %v", err)
	}

	// The server's first start makes the keys; the token is signed with them.
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"token", "--tenant", "acme", "--role", auth.RoleViewer}, &out, io.Discard); err != nil {
		t.Fatalf("token after the server started: %v", err)
	}
	v, err := auth.NewHS256(secrets.DevJWT, cfg.AuthIssuer, cfg.AuthAudience, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil || c.TenantID != "acme" {
		t.Errorf("the server's verifier says %v (claims %+v) of the minted token", err, c)
	}
}
