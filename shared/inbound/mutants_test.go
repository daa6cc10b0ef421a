package inbound

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/privops/privops/sender"
)

// TestMutationsAgree mutates every valid example and checks that the schema
// and Decode agree on each mutant.
func TestMutationsAgree(t *testing.T) {
	t.Parallel()
	for _, name := range examples(t, "") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := example(t, name)
			n := 0
			for desc, mutant := range mutants(t, body) {
				n++
				schemaOK, schemaErr := schemaValid(t, mutant)
				_, err := decodeSigned(mutant)
				if schemaOK != (err == nil) {
					t.Errorf("%s: schema valid=%v (%v), Decode error %v", desc, schemaOK, schemaErr, err)
				}
			}
			t.Logf("%d mutants", n)
			if n < 40 {
				t.Errorf("only %d mutants", n)
			}
		})
	}
}

// enumValues are the values tried at members of these names.
var enumValues = map[string][]any{
	"type":    {"access", "export", "erase", "rectify", "restrict", "lift-restriction", "object", sender.TypeDSRRequested, sender.TypeTaskCompleted, sender.TypeTaskFailed},
	"outcome": {"done", "no-data", "held"},
}

// mutants yields a description and a body for each mutation of body.
func mutants(tb testing.TB, body []byte) func(yield func(string, []byte) bool) {
	return func(yield func(string, []byte) bool) {
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			tb.Fatal(err)
		}
		// members are the paths of every object member; objects those of every object.
		var members, objects [][]string
		var walk func(path []string, v any)
		walk = func(path []string, v any) {
			switch v := v.(type) {
			case map[string]any:
				objects = append(objects, path)
				for k, x := range v {
					members = append(members, slices.Concat(path, []string{k}))
					walk(slices.Concat(path, []string{k}), x)
				}
			case []any:
				for i, x := range v {
					walk(slices.Concat(path, []string{fmt.Sprint(i)}), x)
				}
			}
		}
		walk(nil, doc)
		// mutate applies change to a fresh copy of doc: the object at path.
		mutate := func(desc string, path []string, change func(obj map[string]any)) bool {
			var cp map[string]any
			_ = json.Unmarshal(body, &cp)
			change(lookupObject(cp, path))
			out, err := json.Marshal(cp)
			if err != nil {
				tb.Fatal(err)
			}
			return yield(desc, out)
		}
		for _, path := range members {
			parent, name := path[:len(path)-1], path[len(path)-1]
			desc := strings.Join(path, ".")
			tries := []any{nil}
			switch o := lookupObject(doc, parent)[name].(type) {
			case string:
				tries = append(tries, 7, "", o+" x")
				tries = append(tries, enumValues[name]...)
			case []any:
				tries = append(tries, []any{}, "x")
				if len(o) > 0 {
					tries = append(tries, append([]any{o[0]}, o...))
				}
			default:
				tries = append(tries, "x", []any{})
			}
			if name == "categories" {
				for _, c := range sender.Categories {
					tries = append(tries, []any{c})
				}
			}
			if !mutate(desc+" removed", parent, func(obj map[string]any) { delete(obj, name) }) {
				return
			}
			for _, v := range tries {
				if !mutate(fmt.Sprintf("%s = %#v", desc, v), parent, func(obj map[string]any) { obj[name] = v }) {
					return
				}
			}
		}
		for _, path := range objects {
			for _, name := range []string{"zz", "Zz", "z_z"} {
				if !mutate(strings.Join(path, ".")+" plus member "+name, path, func(obj map[string]any) { obj[name] = "x" }) {
					return
				}
			}
		}
	}
}

func lookupObject(doc map[string]any, path []string) map[string]any {
	var v any = doc
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			_, _ = fmt.Sscan(p, &i)
			v = x[i]
		}
	}
	return v.(map[string]any)
}
