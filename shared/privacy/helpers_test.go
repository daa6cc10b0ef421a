package privacy_test

import (
	"testing"

	"github.com/privops/privops/shared/privacy"
)

// failIfRegressed fails tb when a bug fixed earlier reproduces again.
func failIfRegressed(tb testing.TB, reproduces bool, bug string) {
	tb.Helper()
	if reproduces {
		tb.Fatalf("regression: %s", bug)
	}
}

// errorCode returns the code of the *privacy.Error in err's chain, "" for nil and
// "<not a privacy.Error>" for any other error.
func errorCode(tb testing.TB, err error) string {
	tb.Helper()
	if err == nil {
		return ""
	}
	e, ok := privacy.AsError(err)
	if !ok {
		return "<not a privacy.Error>"
	}
	return e.Code
}
