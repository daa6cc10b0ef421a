package inbound

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds nesting; the contract needs 4 levels (envelope, data,
// changes, a change).
const maxDepth = 32

// wellFormed checks that body is exactly one JSON object, valid UTF-8, nested
// at most maxDepth deep, with no object naming a member twice: JSON parsers
// disagree on which of two equal names wins, and the signature must cover
// one meaning only.
func wellFormed(body []byte) error {
	if !utf8.Valid(body) {
		return refuse(CodeMalformed, "the body is not valid UTF-8")
	}
	// json.Valid accepts one value between optional whitespace, so the
	// trimmed body is not empty.
	if !json.Valid(body) || bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
		return refuse(CodeMalformed, "the body is not a JSON object")
	}
	// body is valid JSON: a scan that tracks containers and strings is enough.
	type frame struct {
		object  bool
		wantKey bool
		names   map[string]struct{}
	}
	var stack []frame
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[':
			if len(stack) == maxDepth {
				return refuse(CodeMalformed, fmt.Sprintf("the body nests deeper than %d levels", maxDepth))
			}
			stack = append(stack, frame{object: body[i] == '{', wantKey: body[i] == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := &stack[len(stack)-1]; top.object {
				top.wantKey = true
			}
		case '"':
			j := i + 1
			for body[j] != '"' {
				if body[j] == '\\' {
					j++
				}
				j++
			}
			if top := &stack[len(stack)-1]; top.object && top.wantKey {
				name := string(body[i+1 : j])
				if bytes.IndexByte(body[i:j], '\\') >= 0 {
					_ = json.Unmarshal(body[i:j+1], &name) // valid JSON: cannot fail
				}
				if _, dup := top.names[name]; dup {
					return refuse(CodeMalformed, "an object in the body names a member twice")
				}
				if top.names == nil {
					top.names = map[string]struct{}{}
				}
				top.names[name] = struct{}{}
				top.wantKey = false
			}
			i = j
		}
	}
	return nil
}

// kind is a JSON type as the contract names it.
type kind int

const (
	kindString kind = iota + 1
	kindInteger
	kindBoolean
	kindObject
	kindArray
)

func (k kind) String() string {
	return [...]string{"", "string", "integer", "boolean", "object", "array"}[k]
}

// field is one member of the contract: the Go side of a JSON Schema property.
// A test compares these with the schemas in contract/schemas.
type field struct {
	name     string
	kind     kind
	required bool

	// Strings. Lengths count bytes: for ASCII-only patterns the same as the
	// schema's characters, for free text stricter.
	minLen, maxLen int
	pattern        *lazyRegexp
	enum           []string
	valid          func(string) bool // a further check the pattern cannot express
	format         string            // the schema's format annotation, if any
	want           string            // what a value should look like, for the reason

	// Integers.
	min, max int64

	// Arrays.
	items    *field
	maxItems int
	unique   bool

	// Objects: the members; nil means any object (checked elsewhere).
	fields []field
}

var integerRe = lazy(`^-?(0|[1-9][0-9]*)$`)

// kindOf returns the JSON type of a raw value (numbers as integers, checked later).
func kindOf(raw json.RawMessage) (kind, bool) {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0, false
	}
	switch raw[0] {
	case '"':
		return kindString, true
	case '{':
		return kindObject, true
	case '[':
		return kindArray, true
	case 't', 'f':
		return kindBoolean, true
	case 'n':
		return 0, false // null: never allowed
	}
	return kindInteger, true
}

// check validates raw against f; path names it in the reason.
func (f *field) check(path string, raw json.RawMessage) error {
	k, ok := kindOf(raw)
	if !ok || k != f.kind {
		return schemaErr(path, "must be "+article(f.kind))
	}
	switch f.kind {
	case kindString:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return schemaErr(path, "must be a string")
		}
		return f.checkString(path, s)
	case kindInteger:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if !integerRe.Match(raw) || err != nil {
			return schemaErr(path, "must be a whole number")
		}
		if n < f.min || n > f.max {
			return schemaErr(path, fmt.Sprintf("must be between %d and %d", f.min, f.max))
		}
	case kindObject:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return schemaErr(path, "must be an object")
		}
		if f.fields != nil {
			return checkObject(path, f.fields, m)
		}
	case kindArray:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return schemaErr(path, "must be an array")
		}
		if len(items) > f.maxItems {
			return schemaErr(path, fmt.Sprintf("must have at most %d items", f.maxItems))
		}
		for i, it := range items {
			if err := f.items.check(fmt.Sprintf("%s[%d]", path, i), it); err != nil {
				return err
			}
			// Only arrays of strings are unique in the contract; compare the
			// decoded strings, as "a" and "\u0061" are the same item.
			if f.unique && slices.ContainsFunc(items[:i], func(prev json.RawMessage) bool { return sameString(prev, it) }) {
				return schemaErr(path, "must not repeat an item")
			}
		}
	}
	return nil
}

func (f *field) checkString(path, s string) error {
	switch {
	case len(s) < f.minLen:
		if f.minLen == 1 {
			return schemaErr(path, "must not be empty")
		}
		return schemaErr(path, fmt.Sprintf("must be at least %d bytes", f.minLen))
	case f.maxLen > 0 && len(s) > f.maxLen:
		return schemaErr(path, fmt.Sprintf("must be at most %d bytes", f.maxLen))
	case f.enum != nil && !slices.Contains(f.enum, s):
		return schemaErr(path, "must be one of "+strings.Join(f.enum, ", "))
	case f.pattern != nil && !f.pattern.MatchString(s), f.valid != nil && !f.valid(s):
		return schemaErr(path, "must be "+f.want)
	}
	return nil
}

// checkObject checks an object's members against fields: each required one
// present, each present one valid, no other. Reasons never name an unknown
// member: its name is the sender's text.
func checkObject(path string, fields []field, m map[string]json.RawMessage) error {
	for i := range fields {
		f := &fields[i]
		raw, ok := m[f.name]
		switch {
		case !ok && f.required:
			return schemaErr(join(path, f.name), "is required")
		case !ok:
			continue
		}
		if err := f.check(join(path, f.name), raw); err != nil {
			return err
		}
	}
	for name := range m {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.name == name }) {
			return schemaErr(path, "has a member the contract does not define")
		}
	}
	return nil
}

func sameString(a, b json.RawMessage) bool {
	var x, y string
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && x == y
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func article(k kind) string {
	if k == kindString || k == kindBoolean {
		return "a " + k.String()
	}
	return "an " + k.String()
}
