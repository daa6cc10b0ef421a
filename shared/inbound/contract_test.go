package inbound

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// The contract in contract/ is checked against the code three ways: the
// schemas state the same rules as the field tables (required members, types,
// enums, lengths, patterns); every example gets the same verdict from the
// schema and from Decode; and so does every mutation of a valid example
// (members removed, nulled, retyped, emptied, enum values swapped, members
// added), which covers the rules that tie fields together.

const schemaBase = "https://github.com/privops/privops/blob/main/contract/schemas/"

var contractDir = filepath.Join("..", "..", "contract")

// schemaFiles are the contract's schemas; each one's $id is schemaBase + its name.
var schemaFiles = []string{"envelope.schema.json", "dsr.requested.v1.schema.json",
	"dsr.task.completed.v1.schema.json", "dsr.task.failed.v1.schema.json", "breach.reported.v1.schema.json",
	"purge.completed.v1.schema.json"}

// envelopeSchema compiles the schemas once, asserting formats, as a strict
// validator a tenant might use would.
var envelopeSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range schemaFiles {
		f, err := os.Open(filepath.Join(contractDir, "schemas", name))
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if id, _ := doc.(map[string]any)["$id"].(string); id != schemaBase+name {
			return nil, fmt.Errorf("%s: $id is %q, want %q", name, id, schemaBase+name)
		}
		if err := c.AddResource(schemaBase+name, doc); err != nil {
			return nil, err
		}
	}
	return c.Compile(schemaBase + "envelope.schema.json")
})

// schemaValid reports whether body is valid under the envelope schema.
func schemaValid(tb testing.TB, body []byte) (bool, error) {
	tb.Helper()
	sch, err := envelopeSchema()
	if err != nil {
		tb.Fatalf("compile schemas: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	err = sch.Validate(inst)
	return err == nil, err
}

// decodeSigned decodes body as acme's k1 sends it.
func decodeSigned(body []byte) (*Message, error) {
	return Decode(context.Background(), signed(body, keyA1, now), now, fakeKeys)
}

func TestExamplesValid(t *testing.T) {
	t.Parallel()
	for _, name := range examples(t, "") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := example(t, name)
			if ok, err := schemaValid(t, body); !ok {
				t.Errorf("schema: %v", err)
			}
			m, err := decodeSigned(body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !strings.HasPrefix(name, strings.TrimPrefix(m.Type, "com.privops.")) {
				t.Errorf("example %s decodes as %s", name, m.Type)
			}
			checkDomain(t, m)
		})
	}
}

func TestExamplesInvalid(t *testing.T) {
	t.Parallel()
	for _, name := range examples(t, "invalid") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := example(t, name)
			// The name says what Decode answers: <code>--<what is wrong>.json.
			want, _, ok := strings.Cut(filepath.Base(name), "--")
			if !ok {
				t.Fatalf("name an invalid example <code>--<what>.json")
			}
			if ok, _ := schemaValid(t, body); ok {
				t.Errorf("the schema accepts it")
			}
			m, err := decodeSigned(body)
			if got := codeOf(err); got != Code(want) {
				t.Errorf("Decode = %v, %v; want code %s", m, err, want)
			}
		})
	}
}

// checkDomain checks that a decoded message passes the domain's own rules,
// so the inbound function never records a message the domain then refuses.
func checkDomain(tb testing.TB, m *Message) {
	tb.Helper()
	switch {
	case m.Requested != nil:
		r := m.Requested
		sub := dsr.Submission{Type: r.Type, Email: r.Subject.Email, Country: r.Subject.Country, Region: r.Subject.Region,
			Categories: slices.Clone(r.Categories), Changes: slices.Clone(r.Changes), Purposes: slices.Clone(r.Purposes),
			UserID: r.Subject.UserID, Phone: r.Subject.Phone, Details: r.Details, ExternalRef: r.ExternalRef}
		if err := sub.Validate(); err != nil {
			tb.Errorf("decoded request fails dsr.Submission.Validate: %v", err)
		}
	case m.TaskCompleted != nil:
		// dsr.CompleteTask's checks.
		c := m.TaskCompleted
		if !slices.Contains([]privacy.Outcome{privacy.OutcomeDone, privacy.OutcomeNoData, privacy.OutcomeHeld}, c.Outcome) ||
			c.Items < 0 || c.Items > 1<<40 || len(c.Reason) > 2000 || len(c.Note) > 2000 {
			tb.Errorf("decoded result fails dsr.CompleteTask's checks: %+v", c)
		}
	}
}

func TestSchemaMatchesCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		fields []field
	}{
		{"envelope.schema.json", envelopeFields},
		{"dsr.requested.v1.schema.json", requestedFields},
		{"dsr.task.completed.v1.schema.json", completedFields},
		{"dsr.task.failed.v1.schema.json", failedFields},
		{"breach.reported.v1.schema.json", breachFields},
		{"purge.completed.v1.schema.json", purgeCompletedFields},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join(contractDir, "schemas", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var s map[string]any
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(describeFields(tt.fields), describeSchema(s)); diff != "" {
				t.Errorf("schema and code differ (-code +schema):\n%s", diff)
			}
			if tt.file == "envelope.schema.json" {
				names, _ := s["propertyNames"].(map[string]any)
				if names["pattern"] != attrNameRe.String() {
					t.Errorf("propertyNames pattern = %v, want %s", names["pattern"], attrNameRe)
				}
				ext, _ := s["additionalProperties"].(map[string]any)
				if diff := cmp.Diff([]any{"string", "number", "boolean"}, ext["type"]); diff != "" {
					t.Errorf("extension attribute types (-want +got):\n%s", diff)
				}
			} else if s["additionalProperties"] != false {
				t.Errorf("additionalProperties = %v, want false: unknown data members are refused", s["additionalProperties"])
			}
		})
	}
}

func TestListsMatchDomain(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(contractDir, "schemas", "dsr.requested.v1.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Type       struct{ Enum []string }
			Categories struct{ Items struct{ Enum []string } }
		}
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name             string
		domain, got, kit []string
	}{
		{"request types", strs(privacy.RequestTypes), s.Properties.Type.Enum, sender.RequestTypes},
		{"categories", strs(privacy.Categories), s.Properties.Categories.Items.Enum, sender.Categories},
		{"outcomes", []string{string(privacy.OutcomeDone), string(privacy.OutcomeNoData), string(privacy.OutcomeHeld)},
			completedFields[2].enum, sender.Outcomes},
	} {
		if diff := cmp.Diff(c.domain, c.got); diff != "" {
			t.Errorf("%s: schema differs from the domain (-domain +schema):\n%s", c.name, diff)
		}
		if diff := cmp.Diff(c.domain, c.kit); diff != "" {
			t.Errorf("%s: sender kit differs from the domain (-domain +kit):\n%s", c.name, diff)
		}
	}
}

// prop is the comparable description of one property, from either side.
type prop struct {
	Type                string
	Required            bool
	MinLength           int
	MaxLength           int
	Pattern             string
	Enum                []string
	Format              string
	Minimum, Maximum    int64
	MaxItems            int
	UniqueItems         bool
	Items               *prop
	Properties          map[string]prop
	NoOtherMembers      bool
	HasMemberDefinition bool
}

func describeFields(fields []field) map[string]prop {
	out := map[string]prop{}
	for _, f := range fields {
		out[f.name] = describeField(f)
	}
	return out
}

func describeField(f field) prop {
	p := prop{Type: f.kind.String(), Required: f.required, MinLength: f.minLen, MaxLength: f.maxLen, Enum: f.enum,
		Format: f.format, Minimum: f.min, Maximum: f.max, MaxItems: f.maxItems, UniqueItems: f.unique}
	if f.pattern != nil {
		p.Pattern = f.pattern.String()
	}
	if f.items != nil {
		it := describeField(*f.items)
		p.Items = &it
	}
	if f.fields != nil {
		p.Properties, p.NoOtherMembers, p.HasMemberDefinition = describeFields(f.fields), true, true
	}
	return p
}

func describeSchema(s map[string]any) map[string]prop {
	req := map[string]bool{}
	for _, r := range asSlice(s["required"]) {
		req[r.(string)] = true
	}
	out := map[string]prop{}
	props, _ := s["properties"].(map[string]any)
	for name, v := range props {
		p := describeProp(v.(map[string]any))
		p.Required = req[name]
		out[name] = p
	}
	return out
}

func describeProp(s map[string]any) prop {
	num := func(k string) int64 { f, _ := s[k].(float64); return int64(f) }
	p := prop{MinLength: int(num("minLength")), MaxLength: int(num("maxLength")), Minimum: num("minimum"),
		Maximum: num("maximum"), MaxItems: int(num("maxItems"))}
	p.Type, _ = s["type"].(string)
	p.Pattern, _ = s["pattern"].(string)
	p.Format, _ = s["format"].(string)
	p.UniqueItems, _ = s["uniqueItems"].(bool)
	if c, ok := s["const"].(string); ok {
		p.Enum = []string{c}
	}
	for _, e := range asSlice(s["enum"]) {
		p.Enum = append(p.Enum, e.(string))
	}
	if it, ok := s["items"].(map[string]any); ok {
		d := describeProp(it)
		p.Items = &d
	}
	if _, ok := s["properties"]; ok {
		p.Properties, p.HasMemberDefinition = describeSchema(s), true
		p.NoOtherMembers = s["additionalProperties"] == false
	}
	return p
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// TestTextLimits checks the free-text limits at their boundary, and the one
// place where code and schema differ by design: privops counts bytes, the
// schema characters.
func TestTextLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		example string
		field   []string
		max     int
	}{
		{"dsr.requested.v1.erase.json", []string{"details"}, 4000},
		{"dsr.task.completed.v1.done.json", []string{"note"}, 2000},
		{"dsr.task.completed.v1.held.json", []string{"reason"}, 2000},
		{"dsr.task.failed.v1.json", []string{"reason"}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.example+"/"+strings.Join(tt.field, "."), func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				text     string
				schemaOK bool
				decodeOK bool
			}{
				{strings.Repeat("a", tt.max), true, true},
				{strings.Repeat("a", tt.max+1), false, false},
				{strings.Repeat("é", tt.max), true, false}, // 2 bytes each
				{strings.Repeat("é", tt.max/2), true, true},
			} {
				body := edit(t, example(t, tt.example), func(v map[string]any) { dataOf(v)[tt.field[0]] = c.text })
				schemaOK, _ := schemaValid(t, body)
				_, err := decodeSigned(body)
				if schemaOK != c.schemaOK || (err == nil) != c.decodeOK {
					t.Errorf("%d characters, %d bytes: schema valid=%v, Decode error %v; want schema %v, decode %v",
						len([]rune(c.text)), len(c.text), schemaOK, err, c.schemaOK, c.decodeOK)
				}
			}
		})
	}
}

func TestAsyncAPI(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(contractDir, "asyncapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, want := range slices.Concat(sender.Types, []string{SignatureProperty, sender.ContentType, "asyncapi: 3.0.0"}) {
		if !strings.Contains(doc, want) {
			t.Errorf("asyncapi.yaml does not mention %q", want)
		}
	}
	for _, name := range schemaFiles {
		if !strings.Contains(doc, "./schemas/"+name) {
			t.Errorf("asyncapi.yaml does not refer to ./schemas/%s", name)
		}
	}
}
