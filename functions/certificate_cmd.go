package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/privops/privops/shared/certificate"
	"github.com/privops/privops/shared/dsr"
)

// certificateCmd is `privops certificate verify FILE (--key KEYFILE | --url URL)`:
// it checks a certificate downloaded from GET …/requests/{id}/certificate
// against the published key, given as a file (JWK set, JWK or PEM from GET
// /api/certificates/key) to work offline, or fetched from a privops URL. It
// prints what the certificate attests and returns nil only if it verifies;
// otherwise the error says why (the process exits 1).
func certificateCmd(ctx context.Context, args []string, w io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: privops certificate verify FILE (--key KEYFILE | --url https://host)")
	}
	fs := flag.NewFlagSet("certificate verify", flag.ContinueOnError)
	fs.SetOutput(w)
	keyFile := fs.String("key", "", "the published key: a JWK set, JWK or PEM file (offline)")
	baseURL := fs.String("url", "", "fetch the key from this privops (GET <url>/api/certificates/key)")
	// FILE may come before or after the flags.
	rest := args[1:]
	var file string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("certificate verify: unexpected argument %q", fs.Arg(0))
	}
	if file == "" || (*keyFile == "") == (*baseURL == "") {
		return errors.New("usage: privops certificate verify FILE (--key KEYFILE | --url https://host)")
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("certificate verify: %w", err)
	}
	var keyData []byte
	if *keyFile != "" {
		keyData, err = os.ReadFile(*keyFile)
	} else {
		keyData, err = fetchKey(ctx, *baseURL)
	}
	if err != nil {
		return fmt.Errorf("certificate verify: read the key: %w", err)
	}
	keys, err := certificate.ParseKeys(keyData)
	if err != nil {
		return fmt.Errorf("certificate verify: %w", err)
	}
	payload, err := certificate.Open(doc, keys)
	if err != nil {
		return fmt.Errorf("certificate verify: INVALID: %w", err)
	}
	var c dsr.Certificate
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("certificate verify: INVALID: the payload is not a certificate: %w", err)
	}
	fmt.Fprintf(w, "valid: %s request %s of tenant %s, %s, %d services, issued %s\n",
		c.Type, c.RequestID, c.TenantID, c.Status, len(c.Services), c.IssuedAt.Format(time.RFC3339))
	return nil
}

// fetchKey reads the published key of a privops deployment.
func fetchKey(ctx context.Context, base string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/certificates/key", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/certificates/key answered %d", res.StatusCode)
	}
	return io.ReadAll(io.LimitReader(res.Body, 64<<10))
}
