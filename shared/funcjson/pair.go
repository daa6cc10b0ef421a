package funcjson

import (
	"errors"
	"fmt"
	"strings"

	"github.com/privops/privops/shared/trigger"
)

// Paired is a function with its spec.
type Paired struct {
	Spec     Spec
	Function trigger.Function
}

// Pair matches functions to specs by name (case-insensitive) and checks that
// each function sets exactly the handler its trigger kind needs. Every spec
// must have a function and every function a spec. The result follows specs.
func Pair(funcs []trigger.Function, specs []Spec) ([]Paired, error) {
	var errs []error
	byName := map[string]trigger.Function{}
	for _, f := range funcs {
		key := strings.ToLower(f.Name)
		if _, dup := byName[key]; dup {
			errs = append(errs, fmt.Errorf("function %s is registered twice", f.Name))
			continue
		}
		byName[key] = f
		if _, ok := Find(specs, f.Name); !ok {
			errs = append(errs, fmt.Errorf("function %s has no function.json", f.Name))
		}
	}
	var out []Paired
	for _, s := range specs {
		f, ok := byName[strings.ToLower(s.Name)]
		if !ok {
			errs = append(errs, fmt.Errorf("function %s has a function.json but no registered handler", s.Name))
			continue
		}
		set := 0
		for _, isSet := range []bool{f.HTTP != nil, f.Queue != nil, f.Timer != nil, f.Documents != nil} {
			if isSet {
				set++
			}
		}
		want := map[Kind]bool{
			KindHTTP:      f.HTTP != nil,
			KindQueue:     f.Queue != nil,
			KindTimer:     f.Timer != nil,
			KindDocuments: f.Documents != nil,
		}[s.Kind]
		if set != 1 || !want {
			errs = append(errs, fmt.Errorf("function %s: its function.json has a %s trigger; register exactly that handler", s.Name, s.Kind))
			continue
		}
		out = append(out, Paired{Spec: s, Function: f})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
