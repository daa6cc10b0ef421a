package funcjson

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// settings is a lookup over a fixed map.
func settings(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// fsOf builds a file system with one function.json per entry.
func fsOf(tb testing.TB, files map[string]string) fstest.MapFS {
	tb.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name+"/function.json"] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

var ignorePrefix = cmpopts.IgnoreUnexported(Spec{})

func TestLoadRepositoryFunctions(t *testing.T) {
	t.Parallel()
	lookup := settings(map[string]string{
		"DEADLINE_WATCH_SCHEDULE": "0 5 * * * *",
		"NOTICES_QUEUE":           "notices",
		"TASKS_QUEUE":             "tasks",
		"COSMOS_DATABASE":         "privops",
		"INBOUND_QUEUE":           "inbound",
		"RETENTION_SCHEDULE":      "0 0 2 * * *",
		"RETENTION_QUEUE":         "retention",
		"BREACH_SEND_QUEUE":       "breachsend",
	})
	specs, err := Load(os.DirFS("../../functions"), lookup)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []Spec{
		{Name: "admin", Kind: KindHTTP, Route: "admin/{*path}", Methods: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, TriggerName: "req", OutputName: "res"},
		{Name: "breachack", Kind: KindHTTP, Route: "breach/{*path}", Methods: []string{"GET", "POST"}, TriggerName: "req", OutputName: "res"},
		{Name: "breachsend", Kind: KindQueue, Queue: "breachsend", Connection: "ServiceBusConnection", DataType: "binary", TriggerName: "msg"},
		{Name: "callback", Kind: KindHTTP, Route: "callbacks/{*path}", Methods: []string{"POST", "PUT"}, TriggerName: "req", OutputName: "res"},
		{Name: "center", Kind: KindHTTP, Route: "center/{*path}", Methods: []string{"GET", "HEAD"}, TriggerName: "req", OutputName: "res"},
		{Name: "certificates", Kind: KindHTTP, Route: "certificates/{*path}", Methods: []string{"GET"}, TriggerName: "req", OutputName: "res"},
		{Name: "console", Kind: KindHTTP, Route: "console/{*path}", Methods: []string{"GET", "HEAD"}, TriggerName: "req", OutputName: "res"},
		{Name: "deadlinewatch", Kind: KindTimer, Schedule: "0 5 * * * *", TriggerName: "timer"},
		{Name: "inbound", Kind: KindQueue, Queue: "inbound", Connection: "ServiceBusConnection", DataType: "binary", TriggerName: "msg"},
		{Name: "notice", Kind: KindHTTP, Route: "notice/{*path}", Methods: []string{"GET"}, TriggerName: "req", OutputName: "res"},
		{Name: "notify", Kind: KindQueue, Queue: "notices", Connection: "ServiceBusConnection", DataType: "binary", TriggerName: "msg"},
		{Name: "openapi", Kind: KindHTTP, Route: "openapi.json", Methods: []string{"GET"}, TriggerName: "req", OutputName: "res"},
		{Name: "operator", Kind: KindHTTP, Route: "operator/{*path}", Methods: []string{"GET", "POST", "PATCH"}, TriggerName: "req", OutputName: "res"},
		{Name: "outbox", Kind: KindDocuments, Connection: "CosmosDbConnection", Database: "privops", Container: "requests", LeaseContainer: "leases", TriggerName: "documents"},
		{Name: "portal", Kind: KindHTTP, Route: "portal/{*path}", Methods: []string{"GET", "POST", "OPTIONS"}, TriggerName: "req", OutputName: "res"},
		{Name: "retention", Kind: KindTimer, Schedule: "0 0 2 * * *", TriggerName: "timer"},
		{Name: "retentionjob", Kind: KindQueue, Queue: "retention", Connection: "ServiceBusConnection", DataType: "binary", TriggerName: "msg"},
		{Name: "tasks", Kind: KindQueue, Queue: "tasks", Connection: "ServiceBusConnection", DataType: "binary", TriggerName: "msg"},
	}
	if diff := cmp.Diff(want, specs, ignorePrefix); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}
	var prefixes []string
	for _, s := range specs {
		prefixes = append(prefixes, s.RoutePrefix())
	}
	wantPrefixes := []string{"/api/admin/", "/api/breach/", "", "/api/callbacks/", "/api/center/", "/api/certificates/", "/api/console/", "", "", "/api/notice/", "", "/api/openapi.json", "/api/operator/", "", "/api/portal/", "", "", ""}
	if diff := cmp.Diff(wantPrefixes, prefixes); diff != "" {
		t.Errorf("route prefixes (-want +got):\n%s", diff)
	}
}

func TestRoutePrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, route string
		opts        []Option
		want        string
	}{
		{name: "catch-all", route: "portal/{*path}", want: "/api/portal/"},
		{name: "exact", route: "openapi.json", want: "/api/openapi.json"},
		{name: "param in the middle", route: "orders/{id}/lines", want: "/api/orders/"},
		{name: "optional param", route: "orders/{id?}", want: "/api/orders/"},
		{name: "only a param", route: "{*all}", want: "/api/"},
		{name: "route omitted", route: "", want: "/api/fn"},
		{name: "leading slash", route: "/health", want: "/api/health"},
		{name: "custom host prefix", route: "portal/{*path}", opts: []Option{WithRoutePrefix("v1")}, want: "/v1/portal/"},
		{name: "empty host prefix", route: "portal/{*path}", opts: []Option{WithRoutePrefix("")}, want: "/portal/"},
		{name: "empty host prefix exact", route: "openapi.json", opts: []Option{WithRoutePrefix("")}, want: "/openapi.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			route := ""
			if tc.route != "" {
				route = `, "route": "` + tc.route + `"`
			}
			fsys := fsOf(t, map[string]string{"fn": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"` + route + `},{"type":"http","direction":"out","name":"res"}]}`})
			specs, err := Load(fsys, settings(nil), tc.opts...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := specs[0].RoutePrefix(); got != tc.want {
				t.Errorf("RoutePrefix() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMatchRoute(t *testing.T) {
	t.Parallel()
	specs := []Spec{
		{Name: "portal", Kind: KindHTTP, Route: "portal/{*path}"},
		{Name: "portalstatus", Kind: KindHTTP, Route: "portal/status/{token}"},
		{Name: "operator", Kind: KindHTTP, Route: "operator/{*path}", Methods: []string{"GET", "POST", "PATCH"}, TriggerName: "req", OutputName: "res"},
		{Name: "outbox", Kind: KindDocuments, Connection: "CosmosDbConnection", Database: "privops", Container: "requests", LeaseContainer: "leases", TriggerName: "documents"},
		{Name: "openapi", Kind: KindHTTP, Route: "openapi.json"},
		{Name: "notify", Kind: KindQueue},
	}
	tests := []struct {
		path string
		want string // "" = no match
	}{
		{"/api/portal/", "portal"},
		{"/api/portal", "portal"},
		{"/api/portal/requests/1", "portal"},
		{"/api/portal/status/abc", "portalstatus"},
		{"/api/openapi.json", "openapi"},
		{"/api/openapi.jsonx", ""},
		{"/api/portalx", ""},
		{"/portal/x", ""},
		{"/notify", ""},
		{"/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			got, ok := MatchRoute(specs, tc.path)
			if ok != (tc.want != "") || got.Name != tc.want {
				t.Errorf("MatchRoute(%q) = %q, %v; want %q", tc.path, got.Name, ok, tc.want)
			}
		})
	}
}

func TestAllowsMethod(t *testing.T) {
	t.Parallel()
	s := Spec{Kind: KindHTTP, Methods: []string{"GET", "POST"}}
	if !s.AllowsMethod("get") || !s.AllowsMethod("POST") || s.AllowsMethod("DELETE") {
		t.Errorf("AllowsMethod with %v is wrong", s.Methods)
	}
	if !(Spec{Kind: KindHTTP}).AllowsMethod("PATCH") {
		t.Error("no methods should allow every method")
	}
}

func TestLoadExpandsSettings(t *testing.T) {
	t.Parallel()
	fsys := fsOf(t, map[string]string{
		"sweep":  `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"%SWEEP%"}]}`,
		"in":     `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","queueName":"%ENV%-%Q%","connection":"SB","dataType":"binary"}]}`,
		"static": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"0 0 1 * * *"}]}`,
	})
	specs, err := Load(fsys, settings(map[string]string{"SWEEP": "0 0 2 * * *", "ENV": "dev", "Q": "tasks"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := map[string]string{}
	for _, s := range specs {
		got[s.Name] = s.Schedule + s.Queue
	}
	want := map[string]string{"sweep": "0 0 2 * * *", "in": "dev-tasks", "static": "0 0 1 * * *"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expanded values (-want +got):\n%s", diff)
	}
}

func TestLoadUnresolvedSetting(t *testing.T) {
	t.Parallel()
	fsys := fsOf(t, map[string]string{
		"notify": `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"msg","queueName":"%NOTICES_QUEUE%","dataType":"binary"}]}`,
	})
	_, err := Load(fsys, settings(nil))
	if !errors.Is(err, ErrUnresolvedSetting) {
		t.Fatalf("Load error = %v, want ErrUnresolvedSetting", err)
	}
	// The message must let an operator fix it: it names the setting and the function.
	for _, want := range []string{"NOTICES_QUEUE", "notify"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	const httpOut = `{"type":"http","direction":"out","name":"res"}`
	tests := []struct {
		name, json string
	}{
		{"unknown trigger", `{"bindings":[{"type":"eventHubTrigger","direction":"in","name":"ev"}]}`},
		{"cosmos trigger without a container", `{"bindings":[{"type":"cosmosDBTrigger","direction":"in","name":"docs","connection":"C","databaseName":"db"}]}`},
		{"cosmos trigger without a connection", `{"bindings":[{"type":"cosmosDBTrigger","direction":"in","name":"docs","databaseName":"db","containerName":"c"}]}`},
		{"cosmos trigger with 3.x names", `{"bindings":[{"type":"cosmosDBTrigger","direction":"in","name":"docs","connectionStringSetting":"C","databaseName":"db","collectionName":"c"}]}`},
		{"unknown binding", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"0 0 1 * * *"},{"type":"serviceBus","direction":"out","name":"out","queueName":"q"}]}`},
		{"two triggers", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"0 0 1 * * *"},{"type":"httpTrigger","direction":"in","name":"req"},` + httpOut + `]}`},
		{"no trigger", `{"bindings":[` + httpOut + `]}`},
		{"http trigger without output", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"}]}`},
		{"http output without http trigger", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"0 0 1 * * *"},` + httpOut + `]}`},
		{"service bus without dataType", `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","queueName":"q"}]}`},
		{"service bus string dataType", `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","queueName":"q","dataType":"string"}]}`},
		{"service bus topic", `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","topicName":"t","subscriptionName":"s","dataType":"binary"}]}`},
		{"service bus batch", `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","queueName":"q","dataType":"binary","cardinality":"many"}]}`},
		{"service bus sessions", `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","queueName":"q","dataType":"binary","isSessionsEnabled":true}]}`},
		{"timer without schedule", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t"}]}`},
		{"trigger direction out", `{"bindings":[{"type":"timerTrigger","direction":"out","name":"t","schedule":"0 0 1 * * *"}]}`},
		{"trigger without name", `{"bindings":[{"type":"timerTrigger","direction":"in","schedule":"0 0 1 * * *"}]}`},
		{"bad method", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","methods":["get post"]},` + httpOut + `]}`},
		{"not json", `{"bindings":[`},
		{"not json, with a placeholder", `{"bindings":[{"schedule":"%S%"`},
		{"bindings not a list", `{"bindings":{"type":"timerTrigger"}}`},
		{"bindings not a list, with a placeholder", `{"bindings":{"type":"timerTrigger","schedule":"%S%"}}`},
		{"schedule not a string", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":5}]}`},
		{"schedule not a string, with a placeholder", `{"bindings":[{"type":"timerTrigger","direction":"in","name":"%S%","schedule":5}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(fsOf(t, map[string]string{"fn": tc.json}), settings(map[string]string{"S": "x"}))
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Load error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestLoadRefusesDuplicates(t *testing.T) {
	t.Parallel()
	const q = `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","queueName":"tasks","dataType":"binary"}]}`
	const h = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","route":"x/{*p}"},{"type":"http","direction":"out","name":"res"}]}`
	for name, files := range map[string]map[string]string{
		"same queue": {"a": q, "b": q},
		"same route": {"a": h, "b": h},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := Load(fsOf(t, files), settings(nil)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Load error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestLoadSkipsFoldersWithoutFunctionJSON(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"cmd/main.go":             {Data: []byte("package main")},
		"README.md":               {Data: []byte("# functions")},
		"sweep/function.json":     {Data: []byte(`{"bindings":[{"Type":"TimerTrigger","Direction":"In","Name":"t","Schedule":" 0 0 1 * * * "}]}`)},
		"sweep/sweep.go":          {Data: []byte("package sweep")},
		"sweep/testdata/x.json":   {Data: []byte("{}")},
		"other/sub/function.json": {Data: []byte("not read")},
	}
	specs, err := Load(fsys, settings(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []Spec{{Name: "sweep", Kind: KindTimer, Schedule: "0 0 1 * * *", TriggerName: "t"}}
	if diff := cmp.Diff(want, specs, ignorePrefix); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}
}
