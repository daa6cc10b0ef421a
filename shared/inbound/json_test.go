package inbound

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// wellFormedReference is wellFormed written the slow, obvious way, with the
// json.Decoder token stream: the fuzz target below checks that the fast scan
// agrees with it.
func wellFormedReference(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object, wantKey bool
		names           map[string]bool
	}
	var stack []*frame
	for first := true; first || len(stack) > 0; first = false {
		tok, err := dec.Token()
		if err != nil || first && tok != json.Delim('{') {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				if top != nil && top.object {
					top.wantKey = true
				}
				if len(stack) == maxDepth {
					return false
				}
				stack = append(stack, &frame{object: t == '{', wantKey: t == '{', names: map[string]bool{}})
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if top != nil && top.object && top.wantKey {
				if top.names[t] {
					return false
				}
				top.names[t], top.wantKey = true, false
				continue
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
	_, err := dec.Token()
	return err == io.EOF
}

func TestWellFormed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want bool
	}{
		{`{}`, true},
		{" \n{\"a\":1}\t", true},
		{`{"a":{"a":{"a":[{"a":1},{"a":2}]}},"b":"a"}`, true},
		{`{"a":"\"a\"","\"a\"":1}`, true},
		{`{"a":"{\"a\":1,\"a\":2}"}`, true},
		{`{"a\\":1,"a":2}`, true},
		{`{"a":1,"a":2}`, false},
		{`{"a":1,"\u0061":2}`, false},
		{`{"x":{"a":1,"b":[],"a":2}}`, false},
		{`{"x":[{"a":1},{"a":1,"a":1}]}`, false},
		{`{"\ud800":1,"\udbff":2}`, false}, // both decode to U+FFFD
		{`[]`, false},
		{`"a"`, false},
		{`{} {}`, false},
		{`{`, false},
		{``, false},
		{`{"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`, true},
		{`{"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`, false},
		{"{\"a\":\"\xff\"}", false},
	}
	for _, tt := range tests {
		if got := wellFormed([]byte(tt.body)) == nil; got != tt.want {
			t.Errorf("wellFormed(%q) = %v, want %v", tt.body, got, tt.want)
		}
		if got := wellFormedReference([]byte(tt.body)); got != tt.want {
			t.Errorf("wellFormedReference(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// FuzzWellFormed checks the fast scan against the token-stream reference.
//
//	go test -run '^$' -fuzz FuzzWellFormed -fuzztime 20s ./shared/inbound/
func FuzzWellFormed(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"a":"\"","b":[{"a":1,"a":2}]}`, `{"\u0061":1,"a":2}`, `[{}]`} {
		f.Add([]byte(s))
	}
	for _, dir := range []string{"", "invalid"} {
		for _, name := range examples(f, dir) {
			f.Add(example(f, name))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ref := wellFormed(body), wellFormedReference(body)
		if (fast == nil) != ref {
			t.Fatalf("wellFormed = %v, reference says well formed = %v", fast, ref)
		}
	})
}
