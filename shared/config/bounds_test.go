package config_test

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/config"
)

// TestEveryDurationHasItsBounds: each duration setting has an entry in
// DurationBounds, Load refuses a value just outside it naming the setting and
// accepts the bound itself, and the README's configuration table states it.
func TestEveryDurationHasItsBounds(t *testing.T) {
	bounds := config.DurationBounds()
	byName := map[string]config.Bound{}
	for _, b := range bounds {
		byName[b.Name] = b
	}
	rt := reflect.TypeFor[config.Config]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		if f.Type == reflect.TypeFor[time.Duration]() {
			if _, ok := byName[f.Tag.Get("envconfig")]; !ok {
				t.Errorf("duration setting %s has no entry in config.DurationBounds", f.Tag.Get("envconfig"))
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Settings a bound's check compares with, set so that only the bound
	// under test decides.
	also := map[string]map[string]string{
		"TASK_RETRY_CAP":   {"TASK_RETRY_BASE": "1s"},
		"TASK_LEASE":       {"WEBHOOK_TIMEOUT": "1s"},
		"RETENTION_LEASE":  {"RETENTION_BUDGET": "1s"},
		"RETENTION_BUDGET": {"RETENTION_LEASE": "20m"},
	}
	for _, b := range bounds {
		t.Run(b.Name, func(t *testing.T) {
			names := func(value time.Duration) []string {
				env := map[string]string{b.Name: value.String()}
				for k, v := range also[b.Name] {
					env[k] = v
				}
				setEnv(t, env)
				_, err := config.Load()
				if err == nil {
					return nil
				}
				var out []string
				for _, n := range namedSettings(t, err) {
					out = append(out, strings.Split(n, "/")...)
				}
				return out
			}
			below := b.Min - time.Second
			if b.Min <= time.Second {
				below = b.Min / 2
			}
			if !slices.Contains(names(below), b.Name) {
				t.Errorf("%s=%s is accepted, below the floor %s", b.Name, below, b.Min)
			}
			if got := names(b.Min); slices.Contains(got, b.Name) {
				t.Errorf("%s=%s (the floor) is refused", b.Name, b.Min)
			}
			if b.Max > 0 {
				if !slices.Contains(names(b.Max+time.Second), b.Name) {
					t.Errorf("%s=%s is accepted, above the ceiling %s", b.Name, b.Max+time.Second, b.Max)
				}
				if slices.Contains(names(b.Max), b.Name) {
					t.Errorf("%s=%s (the ceiling) is refused", b.Name, b.Max)
				}
			}
			row := readmeRow(string(readme), b.Name)
			want := "at least " + short(b.Min)
			if b.Max > 0 {
				want = short(b.Min) + "–" + short(b.Max)
			}
			if !strings.Contains(row, want) {
				t.Errorf("the README's row of %s does not state %q:\n%s", b.Name, want, row)
			}
		})
	}
}

// readmeRow is the configuration table row naming `name`.
func readmeRow(readme, name string) string {
	for line := range strings.SplitSeq(readme, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(strings.SplitN(line, "|", 3)[1], "`"+name+"`") {
			return line
		}
	}
	return ""
}

// short writes a bound as the README does: 5s, 1m, 1h, 90 days.
func short(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
