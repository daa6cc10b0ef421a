package privacy_test

import (
	"testing"

	"github.com/privops/privops/shared/privacy"
)

// skipKnownBug skips tb while a reported bug still reproduces, so the suite stays
// green and the case becomes a plain regression test once the bug is fixed.
func skipKnownBug(tb testing.TB, reproduces bool, bug string) {
	tb.Helper()
	if reproduces {
		tb.Skipf("known bug, still reproduces: %s", bug)
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
