package funcjson

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/trigger"
)

func TestPair(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	timer := func(context.Context, trigger.TimerInfo) error { return nil }
	specs := []Spec{
		{Name: "portal", Kind: KindHTTP, Route: "portal/{*path}"},
		{Name: "sweep", Kind: KindTimer, Schedule: "0 0 2 * * *"},
	}
	got, err := Pair([]trigger.Function{{Name: "Sweep", Timer: timer}, {Name: "portal", HTTP: h}}, specs)
	if err != nil {
		t.Fatalf("Pair: %v", err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Spec.Name+"="+p.Function.Name)
	}
	if diff := cmp.Diff([]string{"portal=portal", "sweep=Sweep"}, names); diff != "" {
		t.Errorf("pairs (-want +got):\n%s", diff)
	}

	for name, funcs := range map[string][]trigger.Function{
		"spec without function": {{Name: "portal", HTTP: h}},
		"function without spec": {{Name: "portal", HTTP: h}, {Name: "sweep", Timer: timer}, {Name: "extra", HTTP: h}},
		"wrong kind":            {{Name: "portal", Timer: timer}, {Name: "sweep", Timer: timer}},
		"two handlers":          {{Name: "portal", HTTP: h, Timer: timer}, {Name: "sweep", Timer: timer}},
		"registered twice":      {{Name: "portal", HTTP: h}, {Name: "PORTAL", HTTP: h}, {Name: "sweep", Timer: timer}},
	} {
		if _, err := Pair(funcs, specs); err == nil {
			t.Errorf("%s: Pair succeeded, want an error", name)
		}
	}
}
