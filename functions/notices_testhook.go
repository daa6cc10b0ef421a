//go:build breachsendtest

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// testNotices, in a binary built with -tags breachsendtest only (the
// breachsend process tests), reads the subject notices from the JSON file
// PRIVOPS_TEST_NOTICES names ({"tenant/incident": Notice}): the stand-in
// for the breach service until the integrator adapts it here. A production
// binary has no such hook.
func testNotices() breachsend.NoticeSource {
	path := os.Getenv("PRIVOPS_TEST_NOTICES")
	if path == "" {
		return nil
	}
	return fileNotices(path)
}

type fileNotices string

func (f fileNotices) SubjectNotice(_ context.Context, tenantID, incidentID string) (breachsend.Notice, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return breachsend.Notice{}, err
	}
	var m map[string]breachsend.Notice
	if err := json.Unmarshal(b, &m); err != nil {
		return breachsend.Notice{}, err
	}
	n, ok := m[tenantID+"/"+incidentID]
	if !ok {
		return breachsend.Notice{}, fmt.Errorf("incident %s: %w", incidentID, privacy.ErrNotFound)
	}
	return n, nil
}
