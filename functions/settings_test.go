package main

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/privops/privops/shared/config"
)

// TestEverySettingIsDocumented keeps local.settings.sample.json and the README
// in step with the settings the binary reads.
func TestEverySettingIsDocumented(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../local.settings.sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample struct{ Values map[string]string }
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatalf("local.settings.sample.json: %v", err)
	}
	rt := reflect.TypeOf(config.Config{})
	for i := range rt.NumField() {
		name := rt.Field(i).Tag.Get("envconfig")
		if name == "" || name == "FUNCTIONS_CUSTOMHANDLER_PORT" || name == "AWS_LAMBDA_RUNTIME_API" { // set by the host itself
			continue
		}
		if _, ok := sample.Values[name]; !ok {
			t.Errorf("%s is not in local.settings.sample.json", name)
		}
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("%s is not in the README's configuration table", name)
		}
	}
}
