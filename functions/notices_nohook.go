//go:build !breachsendtest

package main

import "github.com/privops/privops/shared/breachsend"

// testNotices is nil in every binary but the breachsend process tests' (see
// notices_testhook.go): the subject notices come from the breach service,
// which the integrator adapts to breachsend.NoticeSource here.
func testNotices() breachsend.NoticeSource { return nil }
