package breachsend_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// TestUploadRefusesBadListsPrecisely: each bad list is refused with its code,
// the line at fault and the field, never the value, and keeps nothing: no
// recipient row, the campaign as it was.
func TestUploadRefusesBadListsPrecisely(t *testing.T) {
	t.Parallel()
	secret := "leak.me@example.com"
	tests := []struct {
		name, contentType, body string
		limits                  breachsend.Config
		want                    privacy.Error
	}{
		{"bad address", "text/csv", "email\nok@example.com\nnot-an-" + secret + "@\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-email", Field: "email", Message: "line 3: email must be a plain address such as name@example.com"}},
		{"display name", "text/csv", "email\n\"Leak <" + secret + ">\"\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-email", Field: "email", Message: "line 2: email must be a plain address such as name@example.com"}},
		{"no domain dot", "application/x-ndjson", `{"email":"ok@example.com"}` + "\n\n" + `{"email":"leak@localhost"}`, breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-email", Field: "email", Message: "line 3: email must be a plain address such as name@example.com"}},
		{"missing email", "application/x-ndjson", `{"language":"en"}`, breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-email", Field: "email", Message: "line 1: email is required"}},
		{"bad language", "text/csv", "language,email\nen,a@example.com\nfr," + secret + "\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-language", Field: "language", Message: "line 3: language must be en or zh-CN"}},
		{"unknown column", "text/csv", "email,phone\na@example.com,1\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-header", Message: "line 1: the header names a column other than email, language, name, identifier"}},
		{"no email column", "text/csv", "name\nAda\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-header", Field: "email", Message: "line 1: the header has no email column"}},
		{"ragged row", "text/csv", "email,name\na@example.com,Ada\n" + secret + "\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-line", Message: "line 3: the line has a different number of fields than the header"}},
		{"bare quote", "text/csv", "email\na@example.com\nle\"ak@example.com\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-line", Message: "line 3: the line is not valid CSV"}},
		{"unknown member", "application/x-ndjson", `{"email":"` + secret + `","phone":"1"}`, breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-line", Message: "line 1: the line is not one JSON object of email, language, name, identifier (strings)"}},
		{"control character in name", "application/x-ndjson", `{"email":"a@example.com","name":"A\u0007da"}`, breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "invalid-recipient-field", Field: "name", Message: "line 1: name must be text of at most 254 characters without control characters"}},
		{"endless line", "application/x-ndjson", `{"email":"` + strings.Repeat("a", 5000) + `@example.com"}`, breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "recipient-line-too-long", Message: "line 1: a line is longer than 4096 bytes"}},
		{"endless csv line", "text/csv", "email\n" + strings.Repeat("a", 5000) + "\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "recipient-line-too-long", Message: "line 2: a line is longer than 4096 bytes"}},
		{"empty", "text/csv", "email\n\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnprocessable, Code: "empty-recipient-list", Message: "the list has no recipients"}},
		{"wrong type", "application/json", `[]`, breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnsupported, Code: "unsupported-media-type", Message: "send text/csv or application/x-ndjson"}},
		{"latin-1", "text/csv; charset=iso-8859-1", "email\n", breachsend.Config{},
			privacy.Error{Kind: privacy.KindUnsupported, Code: "unsupported-media-type", Message: "recipient lists must be UTF-8"}},
		{"too many", "text/csv", csvList(1500), breachsend.Config{MaxCount: 1000},
			privacy.Error{Kind: privacy.KindTooLarge, Code: "too-many-recipients", Message: "the list has more than 1000 recipients (BREACH_RECIPIENTS_MAX)"}},
		{"too large", "text/csv", csvList(100), breachsend.Config{MaxBytes: 1024},
			privacy.Error{Kind: privacy.KindTooLarge, Code: "recipient-list-too-large", Message: "the list is larger than 1024 bytes (BREACH_RECIPIENTS_MAX_BYTES)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, tc.limits, nil)
			f.notices.set("acme", approved("inc-1"))
			// A list already there stays as it was.
			before, err := f.svc.Upload(ctx, "acme", "inc-1", "text/csv", strings.NewReader(csvList(3)), "admin:ada")
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Upload(ctx, "acme", "inc-1", tc.contentType, strings.NewReader(tc.body), "admin:ada")
			var got *privacy.Error
			if !errors.As(err, &got) {
				t.Fatalf("Upload: %v, want %s", err, tc.want.Code)
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if strings.Contains(got.Error(), "leak") {
				t.Errorf("the error echoes the input: %s", got.Error())
			}
			after, err := f.svc.Campaign(ctx, "acme", "inc-1")
			if err != nil {
				t.Fatal(err)
			}
			if after.ListID != before.ListID || after.Total != 3 || after.ETag != before.ETag {
				t.Errorf("campaign changed: list %s -> %s, total %d", before.ListID, after.ListID, after.Total)
			}
			if due, err := f.store.Expired(ctx, f.clock.Now().Add(48*time.Hour), 10); err != nil || len(due) != 0 {
				t.Errorf("staged lists left: %v, %v", due, err)
			}
			if n := countRows(t, f); n != 3 {
				t.Errorf("%d recipient rows stored, want the 3 of the first list", n)
			}
			if len(f.audit) != 1 {
				t.Errorf("%d audit events, want the first upload's only", len(f.audit))
			}
		})
	}
}

// TestUploadNormalisesAndDeduplicates: addresses are trimmed and lower-cased
// before they are compared, the first line of an address wins, languages are
// canonical, and both formats give the same list; a new upload replaces the
// old list, whose rows are deleted.
func TestUploadNormalisesAndDeduplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, breachsend.Config{BatchSize: 10}, nil)
	f.notices.set("acme", approved("inc-1"))
	csv := "\uFEFFName,EMAIL,language\nAda, Ada@Example.com ,ZH-cn\nBob,bob@example.com,\nAda again,ada@example.COM,en\n"
	c, err := f.svc.Upload(ctx, "acme", "inc-1", "text/csv; charset=utf-8", strings.NewReader(csv), "admin:ada")
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != 2 || c.Duplicates != 1 || c.State != breachsend.StateReady {
		t.Fatalf("campaign %+v, want 2 recipients and 1 duplicate", c)
	}
	rows, err := f.store.Deliveries(ctx, "acme", "inc-1", c.ListID, breachsend.ChannelEmail, 0, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	type r struct {
		Seq                       int64
		Email, Lang, Name, Status string
	}
	var got []r
	for _, d := range rows {
		got = append(got, r{d.Seq, d.Email, d.Language, d.Name, d.Status})
	}
	want := []r{{1, "ada@example.com", "zh-CN", "Ada", "pending"}, {2, "bob@example.com", "en", "Bob", "pending"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	nd := `{"email":"ADA@example.com","language":"zh","name":"Ada"}` + "\r\n" + `{"email":"bob@example.com","name":"Bob"}` + "\n"
	c2, err := f.svc.Upload(ctx, "acme", "inc-1", "application/x-ndjson", strings.NewReader(nd), "admin:ada")
	if err != nil {
		t.Fatal(err)
	}
	if c2.ListID == c.ListID || c2.Total != 2 {
		t.Fatalf("second upload: %+v", c2)
	}
	if n := countRows(t, f); n != 2 {
		t.Errorf("%d rows after the replacement, want 2 (the old list deleted)", n)
	}
}

// countRows counts the recipient rows acme/inc-1 holds, in every list.
func countRows(tb testing.TB, f *fixture) int {
	tb.Helper()
	n, err := f.store.CountRecipients(context.Background(), "acme", "inc-1")
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
