package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// note is a body with free text and nesting, like a hold or a settings body.
type note struct {
	Reason string            `json:"reason"`
	Tags   []string          `json:"tags,omitempty"`
	Inner  *note             `json:"inner,omitempty"`
	List   []note            `json:"list,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// TestDecodeStrict covers what encoding/json forgives and the API must not:
// each body was accepted (or silently rewritten) before the strict pass.
func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		wantCode   string
		want       note
	}{
		{name: "multi-line reason with a tab", body: `{"reason":"line one\nline two\r\n\tindented"}`,
			want: note{Reason: "line one\nline two\r\n\tindented"}},
		{name: "escaped surrogate pair", body: `{"reason":"\ud83d\ude00"}`, want: note{Reason: "\U0001F600"}},
		{name: "literal backslash-u text is not an escape", body: `{"reason":"\\ud800"}`, want: note{Reason: `\ud800`}},
		{name: "U+FFFD written as such", body: `{"reason":"\ufffd"}`, want: note{Reason: "\ufffd"}},
		{name: "the same key in sibling objects", body: `{"list":[{"reason":"a"},{"reason":"b"}]}`,
			want: note{List: []note{{Reason: "a"}, {Reason: "b"}}}},
		{name: "non-ASCII text", body: `{"reason":"Größe — 名前"}`, want: note{Reason: "Größe — 名前"}},

		{name: "null", body: `null`, wantCode: "null-body"},
		{name: "null in white space", body: " null\n", wantCode: "null-body"},
		{name: "duplicate key", body: `{"reason":"a","reason":"b"}`, wantCode: "duplicate-key"},
		{name: "duplicate key in another case", body: `{"reason":"a","Reason":"b"}`, wantCode: "duplicate-key"},
		{name: "duplicate key folded as encoding/json folds it (long s)", body: `{"reason":"a","reaſon":"b"}`, wantCode: "duplicate-key"},
		{name: "duplicate key folded as encoding/json folds it (Kelvin sign)", body: `{"tags":["a"],"inner":{"reason":"x"},"labels":{"k":"1","\u212a":"2"}}`, wantCode: "duplicate-key"},
		{name: "duplicate key in a nested object", body: `{"inner":{"reason":"a","reason":"b"}}`, wantCode: "duplicate-key"},
		{name: "duplicate key in an object in an array", body: `{"list":[{"reason":"a","reason":"b"}]}`, wantCode: "duplicate-key"},
		{name: "duplicate map key", body: `{"labels":{"a":"1","a":"2"}}`, wantCode: "duplicate-key"},
		{name: "invalid UTF-8", body: "{\"reason\":\"\xff\xfe\"}", wantCode: "invalid-utf8"},
		{name: "overlong UTF-8", body: "{\"reason\":\"\xc0\xaf\"}", wantCode: "invalid-utf8"},
		{name: "escaped lone high surrogate", body: `{"reason":"\ud800"}`, wantCode: "invalid-text"},
		{name: "escaped lone high surrogate before text", body: `{"reason":"\ud800abcdef"}`, wantCode: "invalid-text"},
		{name: "escaped lone low surrogate", body: `{"reason":"\udc00"}`, wantCode: "invalid-text"},
		{name: "two high surrogates", body: `{"reason":"\ud800\ud800"}`, wantCode: "invalid-text"},
		{name: "lone surrogate in an array", body: `{"tags":["ok","\uDBFF"]}`, wantCode: "invalid-text"},
		{name: "escaped NUL", body: `{"reason":"a\u0000b"}`, wantCode: "invalid-text"},
		{name: "escaped bell", body: `{"reason":"\u0007"}`, wantCode: "invalid-text"},
		{name: "escaped escape (ANSI)", body: `{"reason":"\u001b[31mred"}`, wantCode: "invalid-text"},
		{name: "raw DEL", body: "{\"reason\":\"a\x7fb\"}", wantCode: "invalid-text"},
		{name: "C1 next line", body: `{"reason":"a\u0085b"}`, wantCode: "invalid-text"},
		{name: "control character in a nested string", body: `{"inner":{"tags":["\u0001"]}}`, wantCode: "invalid-text"},
		{name: "an array", body: `[{"reason":"a"}]`, wantCode: "malformed-json"},
		{name: "a string", body: `"a"`, wantCode: "malformed-json"},
		{name: "a trailing brace", body: `{"reason":"a"}}`, wantCode: "malformed-json"},
		{name: "a trailing bracket", body: `{"reason":"a"}]`, wantCode: "malformed-json"},
		{name: "a missing value", body: `{"reason":}`, wantCode: "malformed-json"},
		{name: "unclosed", body: `{"inner":{"reason":"a"}`, wantCode: "malformed-json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			var got note
			err := web.Decode(httptest.NewRecorder(), r, 1024, &got)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("decoded (-want +got):\n%s", diff)
				}
				return
			}
			e, ok := privacy.AsError(err)
			if !ok || e.Code != tc.wantCode || e.Kind != privacy.KindInvalid {
				t.Fatalf("Decode(%q) = %v, want %s", tc.body, err, tc.wantCode)
			}
			if diff := cmp.Diff(note{}, got); diff != "" {
				t.Errorf("a refused body was partly decoded (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeMessagesNameTheFieldNotTheValue: the messages point at the field
// and never echo the submitted text, which may be personal data.
func TestDecodeMessagesNameTheFieldNotTheValue(t *testing.T) {
	t.Parallel()
	cases := []struct{ body, want string }{
		{`{"inner":{"reason":"secret","reason":"x"}}`, `field "inner.reason" appears more than once`},
		{`{"list":[{"tags":["secret\u0001"]}]}`, `field "list[].tags[]" holds a control character`},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/json")
		err := web.Decode(httptest.NewRecorder(), r, 1024, &note{})
		e, ok := privacy.AsError(err)
		if !ok || e.Message != tc.want {
			t.Errorf("Decode(%s) = %v, want message %q", tc.body, err, tc.want)
		}
	}
}

func TestNoBody(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		body     string
		wantCode string
	}{
		{name: "no body"},
		{name: "white space", body: " \r\n"},
		{name: "empty object", body: "{}"},
		{name: "empty object with white space", body: " { \n } "},
		{name: "an object with a field", body: `{"reason":"because"}`, wantCode: "unexpected-body"},
		{name: "null", body: `null`, wantCode: "unexpected-body"},
		{name: "an empty array", body: `[]`, wantCode: "unexpected-body"},
		{name: "text", body: `please`, wantCode: "unexpected-body"},
		{name: "a large body", body: "{" + strings.Repeat(" ", 4<<10) + "}", wantCode: "unexpected-body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			err := web.NoBody(httptest.NewRecorder(), r)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("NoBody(%q) = %v, want nil", tc.body, err)
				}
				return
			}
			e, ok := privacy.AsError(err)
			if !ok || e.Code != tc.wantCode || e.Kind != privacy.KindInvalid {
				t.Fatalf("NoBody(%q) = %v, want %s", tc.body, err, tc.wantCode)
			}
		})
	}
}

// BenchmarkDecode measures Decode with its strict pass on a portal submission
// and on a 16 KiB body of free text.
func BenchmarkDecode(b *testing.B) {
	bodies := map[string]string{
		"submission": `{"type":"access","email":"ada@example.com","country":"DE","categories":["profile","usage"]}`,
		"16KiB text": `{"reason":"` + strings.Repeat(`Größe of the request, line\n`, 600) + `"}`,
	}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				var v struct {
					Type       string   `json:"type"`
					Email      string   `json:"email"`
					Country    string   `json:"country"`
					Categories []string `json:"categories"`
					Reason     string   `json:"reason"`
				}
				if err := web.Decode(httptest.NewRecorder(), r, 1<<20, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
