package privacy

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCloneSharesNothing fills every field of a request (recursively, one
// element per slice and map) with a non-zero value, clones it, and checks the
// copy is equal and shares no slice, map or pointer with the original. A field
// added to Request (or to a type it holds) that Clone does not copy fails it.
func TestCloneSharesNothing(t *testing.T) {
	t.Parallel()
	r := new(Request)
	fill(reflect.ValueOf(r).Elem())
	c := r.Clone()
	if diff := cmp.Diff(r, c); diff != "" {
		t.Fatalf("clone differs (-orig +clone):\n%s", diff)
	}
	shared(t, "Request", reflect.ValueOf(r).Elem(), reflect.ValueOf(c).Elem())
}

// TestTenantCloneSharesNothing is TestCloneSharesNothing for a tenant.
func TestTenantCloneSharesNothing(t *testing.T) {
	t.Parallel()
	tn := new(Tenant)
	fill(reflect.ValueOf(tn).Elem())
	c := tn.Clone()
	if diff := cmp.Diff(tn, c); diff != "" {
		t.Fatalf("clone differs (-orig +clone):\n%s", diff)
	}
	shared(t, "Tenant", reflect.ValueOf(tn).Elem(), reflect.ValueOf(c).Elem())
}

// fill sets v and everything it holds to non-zero values.
func fill(v reflect.Value) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

// shared reports every slice, map or pointer a and b have in common.
func shared(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: the clone shares the pointer", path)
			return
		}
		shared(t, path, a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() == 0 {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: the clone shares the slice", path)
			return
		}
		for i := range a.Len() {
			shared(t, path+"[]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if a.Len() == 0 {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: the clone shares the map", path)
		}
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				shared(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
}
