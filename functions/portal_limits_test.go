package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNewCodeAfterLockoutOverHTTP: after five wrong codes a resent code
// verifies (issue 15, item 3); once no code can be sent, the 429 says so.
func TestNewCodeAfterLockoutOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	id, tok := ta.submit(t, "acme", "lockout@example.com")
	verify := func(code string) reply {
		return ta.do(t, call{method: "POST", path: "/api/portal/acme/requests/" + id + "/verify", header: bearer(tok), body: `{"code":"` + code + `"}`})
	}
	for range 5 {
		verify(wrongCode(ta.mail.lastCode(t)))
	}
	if r := verify(ta.mail.lastCode(t)); r.status != http.StatusTooManyRequests || r.body["detail"] != "too many wrong codes; ask for a new code" {
		t.Fatalf("locked: %d %v", r.status, r.body)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/portal/acme/requests/" + id + "/resend", header: bearer(tok)}); r.status != http.StatusAccepted {
		t.Fatalf("resend: %d %v", r.status, r.body)
	}
	if r := verify(ta.mail.lastCode(t)); r.status != http.StatusOK || r.body["status"] != "awaiting-decision" {
		t.Errorf("the new code after a lockout: %d %v", r.status, r.body)
	}
}

// TestInvalidSubmissionsDoNotCountAgainstAnAddress: anyone could otherwise
// lock a subject out of submitting for an hour with invalid bodies carrying
// the subject's address (issue 15, item 6). Valid submissions count, under
// the address's normalised form.
func TestInvalidSubmissionsDoNotCountAgainstAnAddress(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	submit := func(body string) reply {
		return ta.do(t, call{method: "POST", path: "/api/portal/acme/requests", body: body})
	}
	for range ta.cfg.RateSubmitPerEmail + 3 {
		if r := submit(`{"type":"erase","email":"victim@example.com","country":"XYZ"}`); r.code != "invalid-country" {
			t.Fatalf("invalid submission: %d %q", r.status, r.code)
		}
	}
	if r := submit(`{"type":"erase","email":"victim@example.com","country":"FR"}`); r.status != http.StatusCreated {
		t.Fatalf("the victim's own submission after invalid ones: %d %q", r.status, r.code)
	}
	// Valid submissions count under the normalised address, whatever its case.
	var got []int
	for i := range ta.cfg.RateSubmitPerEmail {
		got = append(got, submit(fmt.Sprintf(`{"type":"erase","email":" %s ","country":"FR"}`, []string{"Victim@Example.com", "VICTIM@example.COM"}[i%2])).status)
	}
	want := make([]int, ta.cfg.RateSubmitPerEmail)
	for i := range want {
		want[i] = http.StatusCreated
	}
	want[len(want)-1] = http.StatusTooManyRequests // the first valid one counted too
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("valid submissions (-want +got):\n%s", diff)
	}
}

func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}
