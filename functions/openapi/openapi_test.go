package openapi_test

import (
	"bytes"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"

	"github.com/privops/privops/functions/openapi"
)

// TestDocumentIsValidOpenAPI31 checks the served document with a real
// OpenAPI 3.1 validator (pb33f/libopenapi-validator: the document against the
// OpenAPI 3.1 JSON Schema, every $ref resolved, every schema compiled).
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	doc, err := libopenapi.NewDocument(openapi.Document)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if v := doc.GetSpecInfo().SpecFormat; v != datamodel.OAS31 {
		t.Errorf("spec format %q, want %s", v, datamodel.OAS31)
	}
	if _, errs := doc.BuildV3Model(); errs != nil {
		t.Fatalf("build model: %v", errs)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("new validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s (line %d)", se.Reason, se.FieldPath, se.Line)
			}
		}
	}
}

// TestValidatorRefusesABrokenDocument: the document check is not a no-op.
func TestValidatorRefusesABrokenDocument(t *testing.T) {
	t.Parallel()
	broken := bytes.Replace(openapi.Document, []byte(`"paths": {`), []byte(`"paths": {"/broken": {"get": {"responses": "none"}},`), 1)
	if bytes.Equal(broken, openapi.Document) {
		t.Fatal("the document has no paths object to break")
	}
	doc, err := libopenapi.NewDocument(broken)
	if err != nil {
		return // refused while parsing: as good
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return
	}
	if ok, _ := v.ValidateDocument(); ok {
		t.Error("a document with a string for responses validates")
	}
}
