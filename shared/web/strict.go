package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

// The strict pass runs over the raw body before it is unmarshalled, because
// encoding/json forgives what an API must not: it keeps the last of two equal
// keys (and matches keys case-insensitively, so "reason" and "Reason" collide),
// replaces invalid UTF-8 and escaped lone surrogates ("\ud800") with U+FFFD,
// and decodes a top-level null into nothing at all. Each of these is refused
// with its own code:
//
//	empty-body     no body, or only white space
//	null-body      the body is the JSON literal null
//	invalid-utf8   the body is not UTF-8
//	malformed-json not JSON, not one object, or something after it
//	duplicate-key  an object names a key twice (compared case-insensitively)
//	invalid-text   a string holds a control character (U+0000-U+001F except
//	               tab, line feed and carriage return; U+007F-U+009F) or an
//	               escaped lone surrogate
//
// Tab and line breaks stay allowed: reasons, notes and questions are
// multi-line free text.

// errEmptyBody is returned by Decode for a request without a body.
func errEmptyBody() error {
	return privacy.Errorf(privacy.KindInvalid, "empty-body", "the body is empty; a JSON object is required")
}

// IsEmptyBody reports whether err is Decode's answer to a request without a
// body, so a handler can name what is missing (deny without a body is
// reason-required).
func IsEmptyBody(err error) bool {
	e, ok := privacy.AsError(err)
	return ok && e.Code == "empty-body"
}

// readBody reads at most limit bytes of r's body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, privacy.Errorf(privacy.KindTooLarge, "body-too-large", "the body must be at most %d bytes", limit)
	}
	if r.Body == nil {
		return nil, nil
	}
	b, err := readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, privacy.Errorf(privacy.KindTooLarge, "body-too-large", "the body must be at most %d bytes", limit)
		}
		return nil, privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body could not be read")
	}
	return b, nil
}

// CheckJSON runs the strict pass of Decode over a body read some other way
// (a signed callback, checked before it is parsed): one JSON object, UTF-8,
// no duplicate keys, no control characters or lone surrogates in strings.
func CheckJSON(data []byte) error { return checkStrict(data) }

// readAll is io.ReadAll sized by the announced length (at most limit), so a
// body is read into one allocation instead of a doubling series of them.
func readAll(rd io.Reader, announced, limit int64) ([]byte, error) {
	size := int64(512)
	if announced > 0 {
		size = min(announced, limit) + 1 // +1: room to see the end
	}
	b := make([]byte, 0, size)
	for {
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the next capacity
		}
	}
}

// checkStrict is the strict pass over a non-empty body.
func checkStrict(data []byte) error {
	if !utf8.Valid(data) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-utf8", "the body must be UTF-8")
	}
	malformed := privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body is not valid JSON")
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return malformed
	}
	switch tok {
	case nil:
		return privacy.Errorf(privacy.KindInvalid, "null-body", "the body is null; a JSON object is required")
	case json.Delim('{'):
	default:
		return privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body must be a JSON object")
	}
	stack := []*frame{{object: true, wantKey: true}}
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return malformed
		}
		top := stack[len(stack)-1]
		if top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				continue
			}
			key, ok := tok.(string)
			if !ok {
				return malformed
			}
			if !validText(key) {
				return privacy.Errorf(privacy.KindInvalid, "invalid-text", "a key holds a control character")
			}
			top.field = key
			folded := foldKey(key)
			if top.keys[folded] {
				return privacy.Errorf(privacy.KindInvalid, "duplicate-key", "field %q appears more than once", fieldPath(stack))
			}
			if top.keys == nil {
				top.keys = make(map[string]bool, 8)
			}
			top.keys[folded], top.wantKey = true, false
			continue
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, &frame{})
			default: // ']' closes an array; '}' in value position cannot reach here
				stack = stack[:len(stack)-1]
				valueDone(stack)
			}
			continue
		case string:
			if !validText(v) {
				return privacy.Errorf(privacy.KindInvalid, "invalid-text", "field %q holds a control character", fieldPath(stack))
			}
		}
		valueDone(stack)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body must hold exactly one JSON object")
	}
	if loneSurrogate(data) {
		return privacy.Errorf(privacy.KindInvalid, "invalid-text", "the body holds an escaped lone surrogate (\\ud800-\\udfff)")
	}
	return nil
}

// frame is an open object or array of the strict pass.
type frame struct {
	object  bool
	keys    map[string]bool // folded keys seen so far
	wantKey bool            // an object expects a key (or its end) next
	field   string          // the key whose value comes (or came) last
}

// fieldPath names the value the innermost frame is at, for messages:
// "changes[].value". It is only built for an error.
func fieldPath(stack []*frame) string {
	var b strings.Builder
	for _, f := range stack {
		if !f.object {
			b.WriteString("[]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.field)
	}
	return b.String()
}

// valueDone marks that the innermost object got the value of its key.
func valueDone(stack []*frame) {
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].wantKey = true
	}
}

// foldKey maps key to a form equal for every key encoding/json takes for the
// same field: it matches names as bytes.EqualFold does, by Unicode simple case
// folding, so "reaſon" (long s) and "reason" collide, and so must they here.
// Each rune becomes the lower-case ASCII letter of its folding orbit, if it
// has one, else the orbit's smallest rune; a key of lower-case ASCII (the
// usual case) is its own form and costs nothing.
func foldKey(key string) string {
	plain := true
	for i := 0; i < len(key); i++ {
		if c := key[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			plain = false
			break
		}
	}
	if plain {
		return key
	}
	var b strings.Builder
	for _, r := range key {
		least, ascii := r, rune(-1)
		for f := r; ; {
			if f < 0x80 {
				ascii = f
			}
			least = min(least, f)
			if f = unicode.SimpleFold(f); f == r {
				break
			}
		}
		if ascii >= 0 {
			least = unicode.ToLower(ascii)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// validText reports whether s is free of control characters other than tab,
// line feed and carriage return.
func validText(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r >= 0x7f && r <= 0x9f {
			return false
		}
	}
	return true
}

// loneSurrogate reports whether a JSON text escapes a UTF-16 surrogate that is
// not half of a pair. encoding/json turns such an escape into U+FFFD without a
// word; the text is known to be valid JSON here.
func loneSurrogate(data []byte) bool {
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(data) && data[i+1] == 'u' {
				r, ok := hex4(data, i+2)
				switch {
				case !ok:
				case r >= 0xdc00 && r <= 0xdfff:
					return true // a low half with no high half before it
				case r >= 0xd800 && r <= 0xdbff:
					low, ok := -1, false
					if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
						low, ok = hex4(data, i+8)
					}
					if !ok || low < 0xdc00 || low > 0xdfff {
						return true
					}
					i += 6 // the low half is consumed with its high half
				}
				i += 5
				continue
			}
			i++ // skip the escaped character
		}
	}
	return false
}

func hex4(data []byte, at int) (int, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	n := 0
	for _, c := range data[at : at+4] {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			n |= int(c-'A') + 10
		default:
			return 0, false
		}
	}
	return n, true
}

// NoBody checks that a POST which takes no body got none. An empty body and an
// empty JSON object ({}, which many HTTP clients send by default) are accepted;
// anything else is refused as unexpected-body, so a client that believes it
// passes a parameter (a reason, a note) learns that it is ignored.
func NoBody(w http.ResponseWriter, r *http.Request) error {
	const limit = 1 << 10
	unexpected := privacy.Errorf(privacy.KindInvalid, "unexpected-body", "this endpoint takes no body")
	data, err := readBody(w, r, limit)
	if err != nil {
		return unexpected
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return nil
	}
	if s[0] == '{' && s[len(s)-1] == '}' && strings.TrimSpace(s[1:len(s)-1]) == "" {
		return nil
	}
	return unexpected
}
