package web

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/privops/privops/shared/privacy"
)

// checkMembers walks the JSON document b beside the Go type t it is decoded
// into and refuses what encoding/json would read silently and otherwise than
// the caller meant: a member named twice in one object (the last one wins, so
// a proxy or a log that reads the first sees another tenant id or email), and
// a member that names a struct field only up to case (encoding/json matches
// names case-insensitively; in a merge patch {"DefaultDays":45} lands beside
// the current defaultDays and is dropped). With unknown set, a member that
// names no field of a struct is refused too, whatever its value: a merge
// patch's null for a member that is not a setting would otherwise vanish in
// the merge and answer 200. Syntax errors are left to the decoder.
func checkMembers(b []byte, t reflect.Type, unknown bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return walkMembers(dec, t, unknown)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func walkMembers(dec *json.Decoder, t reflect.Type, unknown bool) error {
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)) {
		t = nil // decodes itself: only duplicates are checked below it
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil
			}
			k, _ := kt.(string)
			if seen[k] {
				return privacy.Errorf(privacy.KindInvalid, "duplicate-key", "field %q appears more than once", k)
			}
			seen[k] = true
			var et reflect.Type
			switch {
			case fields != nil:
				ft, ok := fields[k]
				if !ok && (unknown || foldsToField(fields, k)) {
					return privacy.Errorf(privacy.KindInvalid, "unknown-field", "unknown field %q", k)
				}
				et = ft
			case t != nil && t.Kind() == reflect.Map:
				et = t.Elem()
			}
			if err := walkMembers(dec, et, unknown); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for dec.More() {
			if err := walkMembers(dec, et, unknown); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	}
	return nil
}

// foldsToField reports whether k names a field of fields only up to case.
func foldsToField(fields map[string]reflect.Type, k string) bool {
	for name := range fields {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// jsonFields returns the JSON member names of struct t (embedded structs'
// fields promoted, as encoding/json promotes them) and their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for n, typ := range jsonFields(et) {
					if _, ok := out[n]; !ok {
						out[n] = typ
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}
