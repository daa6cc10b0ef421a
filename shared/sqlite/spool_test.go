package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// A request created with a spooled mail stores both in one transaction; a
// create that fails (its id taken) spools nothing. The spool lists mails
// spooled before a time, oldest first, and deletes by id (idempotently); a
// deleted tenant leaves none behind.
func TestMailSpool(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	s := openTest(t, Options{}).Store()
	ids := func(tb testing.TB, before time.Time) []string {
		tb.Helper()
		ms, err := s.SpooledMails(tb.Context(), before, 100)
		if err != nil {
			tb.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	mail := func(id string, at time.Time) []privacy.SpooledMail {
		return []privacy.SpooledMail{{ID: id, TenantID: "acme", CreatedAt: at, Sealed: []byte("sealed " + id)}}
	}
	for i, id := range []string{"req-2", "req-1"} {
		r := benchRequest("acme", id, at.Add(time.Duration(i)*time.Second))
		if err := s.CreateRequestWithMail(t.Context(), r, nil, mail(id+"-code-1", r.CreatedAt)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateRequestWithMail(t.Context(), benchRequest("acme", "req-1", at), nil, mail("other", at)); !errors.Is(err, privacy.ErrConflict) {
		t.Fatalf("create with a taken id: %v, want ErrConflict", err)
	}
	if diff := cmp.Diff([]string{"req-2-code-1", "req-1-code-1"}, ids(t, at.Add(time.Hour))); diff != "" {
		t.Errorf("spooled (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"req-2-code-1"}, ids(t, at.Add(time.Second))); diff != "" {
		t.Errorf("spooled before the second (-want +got):\n%s", diff)
	}
	ms, err := s.SpooledMails(t.Context(), at.Add(time.Second), 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mail("req-2-code-1", at), ms); diff != "" {
		t.Errorf("spooled row (-want +got):\n%s", diff)
	}
	if err := s.DeleteSpooledMails(t.Context(), []string{"req-2-code-1", "absent"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"req-1-code-1"}, ids(t, at.Add(time.Hour))); diff != "" {
		t.Errorf("after the delete (-want +got):\n%s", diff)
	}
	if err := s.DeleteTenant(t.Context(), "acme"); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, at.Add(time.Hour)); len(got) != 0 {
		t.Errorf("after the tenant's deletion: %v", got)
	}
}
