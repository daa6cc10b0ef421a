package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// The examples of RFC 7396 Appendix A.
func TestMergePatchRFC7396Examples(t *testing.T) {
	t.Parallel()
	cases := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.target+" + "+tc.patch, func(t *testing.T) {
			t.Parallel()
			var target, patch, want any
			for _, p := range []struct {
				s string
				v *any
			}{{tc.target, &target}, {tc.patch, &patch}, {tc.want, &want}} {
				if err := json.Unmarshal([]byte(p.s), p.v); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(want, web.MergePatch(target, patch)); diff != "" {
				t.Errorf("MergePatch (-want +got):\n%s", diff)
			}
		})
	}
}

type patched struct {
	Name  string   `json:"name"`
	Days  int      `json:"days"`
	Grace *int     `json:"grace"`
	Tags  []string `json:"tags"`
}

func TestApplyMergePatch(t *testing.T) {
	t.Parallel()
	seven := 7
	current := patched{Name: "Acme", Days: 30, Grace: &seven, Tags: []string{"a"}}
	cases := []struct {
		name     string
		patch    string
		want     patched
		wantCode string
	}{
		{"one field", `{"days":45}`, patched{Name: "Acme", Days: 45, Grace: &seven, Tags: []string{"a"}}, ""},
		{"null is the zero value (the default)", `{"grace":null,"tags":null,"days":null}`, patched{Name: "Acme"}, ""},
		{"empty patch changes nothing", `{}`, current, ""},
		{"unknown member", `{"colour":"red"}`, patched{}, "unknown-field"},
		{"wrong type", `{"days":"many"}`, patched{}, "invalid-field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var patch map[string]any
			if err := json.Unmarshal([]byte(tc.patch), &patch); err != nil {
				t.Fatal(err)
			}
			var got patched
			err := web.ApplyMergePatch(current, patch, &got)
			if e, _ := privacy.AsError(err); tc.wantCode != "" {
				if e == nil || e.Code != tc.wantCode {
					t.Fatalf("error %v, want code %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("patched (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeMergePatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, ctype, body string
		wantCode          string
	}{
		{"an object", web.MergePatchType, `{"a":null}`, ""},
		{"with a charset", web.MergePatchType + "; charset=utf-8", `{"a":1}`, ""},
		{"plain json is not a merge patch", "application/json", `{"a":1}`, "unsupported-media-type"},
		{"an array", web.MergePatchType, `[1]`, "malformed-json"},
		{"null", web.MergePatchType, `null`, "null-body"},
		{"two objects", web.MergePatchType, `{}{}`, "malformed-json"},
		{"too large", web.MergePatchType, `{"a":"` + strings.Repeat("x", 100) + `"}`, "body-too-large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPatch, "/x", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			_, err := web.DecodeMergePatch(httptest.NewRecorder(), r, 64)
			got := ""
			if e, ok := privacy.AsError(err); ok {
				got = e.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.wantCode {
				t.Errorf("code %q, want %q", got, tc.wantCode)
			}
		})
	}
}
