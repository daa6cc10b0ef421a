package main

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/admin"
	"github.com/privops/privops/functions/notice"
	"github.com/privops/privops/functions/openapi"
	"github.com/privops/privops/functions/operator"
	"github.com/privops/privops/functions/portal"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// TestOpenAPISchemasListEveryField: each schema of the document names exactly
// the JSON fields of the Go type the API reads or writes, nested objects
// included. Settings lacked three fields while forbidding extra properties,
// so a client following the document could not send them; Request lacked
// tasks and package.
func TestOpenAPISchemasListEveryField(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	if err := json.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	types := map[string]reflect.Type{
		"Problem":      reflect.TypeFor[web.ProblemDetails](),
		"Submission":   reflect.TypeFor[dsr.Submission](),
		"PublicStatus": reflect.TypeFor[portal.Status](),
		"Due":          reflect.TypeFor[privacy.Due](),
		"Request":      reflect.TypeFor[admin.RequestView](),
		"AuditEvent":   reflect.TypeFor[privacy.AuditEvent](),
		"AuditPage":    reflect.TypeFor[dsr.AuditPage](),
		"ChainReport":  reflect.TypeFor[dsr.ChainReport](),
		"Settings":     reflect.TypeFor[dsr.TenantSettings](),
		"Task":         reflect.TypeFor[privacy.Task](),
		"Service":      reflect.TypeFor[admin.ServiceView](),
		"Hold":         reflect.TypeFor[privacy.Hold](),
		"HoldInput":    reflect.TypeFor[dsr.HoldInput](),
		"Certificate":  reflect.TypeFor[dsr.Certificate](),
		// Breach notification (shared/breach).
		"Incident":            reflect.TypeFor[breach.IncidentView](),
		"IncidentDeclaration": reflect.TypeFor[breach.Declaration](),
		"IncidentReportInput": reflect.TypeFor[breach.ReportInput](),
		"BreachNotice":        reflect.TypeFor[breach.NoticeView](),
		"AuthorityReport":     reflect.TypeFor[breach.AuthorityReport](),
		// Breach notification of data subjects.
		"Campaign":         reflect.TypeFor[admin.CampaignView](),
		"CampaignProgress": reflect.TypeFor[breachsend.Progress](),
		"CampaignCounts":   reflect.TypeFor[operator.CampaignCounts](),
		"TenantHealth":     reflect.TypeFor[operator.Health](),
		"PublicNotice":     reflect.TypeFor[notice.View](),
	}
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s, ok := schemas[name].(map[string]any)
		if !ok {
			t.Errorf("the document has no schema %s", name)
			continue
		}
		compareFields(t, schemas, name, s, types[name])
	}
}

// compareFields compares schema's properties with the JSON fields of typ and
// recurses into the struct-valued ones.
func compareFields(t *testing.T, schemas map[string]any, path string, schema map[string]any, typ reflect.Type) {
	t.Helper()
	schema = resolve(schemas, schema)
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
		if items, ok := schema["items"].(map[string]any); ok {
			schema = resolve(schemas, items)
		}
	}
	if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() {
		return
	}
	props, _ := schema["properties"].(map[string]any)
	if props == nil {
		if all, ok := schema["allOf"].([]any); ok {
			props = map[string]any{}
			for _, part := range all {
				for k, v := range resolve(schemas, part.(map[string]any))["properties"].(map[string]any) {
					props[k] = v
				}
			}
		}
	}
	if props == nil {
		t.Errorf("%s: the schema lists no properties for %s", path, typ)
		return
	}
	fields := jsonFields(typ)
	var want, got []string
	for f := range fields {
		want = append(want, f)
	}
	for p := range props {
		got = append(got, p)
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: JSON fields of %s vs schema properties (-Go +schema):\n%s", path, typ, diff)
	}
	for f, ft := range fields {
		if p, ok := props[f].(map[string]any); ok {
			compareFields(t, schemas, path+"."+f, p, ft)
		}
	}
}

// resolve follows a local $ref; anyOf/oneOf with null (a nullable object)
// resolves to its object branch.
func resolve(schemas map[string]any, s map[string]any) map[string]any {
	for range 10 {
		if ref, ok := s["$ref"].(string); ok {
			s = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
			continue
		}
		for _, k := range []string{"anyOf", "oneOf"} {
			if alts, ok := s[k].([]any); ok {
				for _, a := range alts {
					if m := a.(map[string]any); m["type"] != "null" {
						s = m
						break
					}
				}
			}
		}
		if _, ok := s["$ref"]; !ok {
			return s
		}
	}
	return s
}

// jsonFields returns the JSON field names of a struct and their types, as
// encoding/json sees them (embedded structs flattened, "-" left out).
func jsonFields(typ reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				if _, shadowed := out[k]; !shadowed {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	// A field of the outer struct hides an embedded one of the same name.
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.Anonymous && name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}
