package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/cosmos"
	"github.com/privops/privops/shared/privacy"
)

// These tests keep infra/ (Bicep) in step with the code: the queues, the
// containers, the app settings and the connections the functions use. Bicep
// is read as text: no Bicep compiler installs offline (npm's "bicep" package
// is an unrelated tool and "bicep-node" downloads the CLI from GitHub at run
// time), so TestInfraBicepCompiles runs only where a `bicep` binary is on the
// PATH. The reading below understands the subset of Bicep that infra/ uses:
// strings with interpolation, comments, one `key: value` per line in objects.

const infraDir = "../infra"

// azureOnlyExempt lists the shared/config settings that main.bicep does not
// set, each with the reason. A setting the code reads in production belongs
// in main.bicep's app settings; adding one to config without either fails
// TestInfraAppSettingsCoverConfig.
var azureOnlyExempt = map[string]string{
	// Set by the host that starts the binary, never an app setting.
	"FUNCTIONS_CUSTOMHANDLER_PORT": "the Functions host sets it for the handler process",
	"AWS_LAMBDA_RUNTIME_API":       "AWS Lambda sets it; on Azure it must stay unset (host selection)",

	// Standalone only.
	"HTTP_ADDR":          "standalone listener; on Azure the handler listens on 127.0.0.1:FUNCTIONS_CUSTOMHANDLER_PORT and PUBLIC_URL is set",
	"SQLITE_SYNCHRONOUS": "embedded SQLite store and queue; on Azure STORE_BACKEND=cosmos and QUEUE_BACKEND=servicebus",
	"QUEUE_LEASE":        "built-in queue consumers; on Azure the host's serviceBusTrigger receives (queue lockDuration, host.json)",
	"QUEUE_WORKERS":      "built-in queue consumers; on Azure host.json maxConcurrentCalls applies",
	"BLOB_DIR":           "BLOB_BACKEND=local only; Azure uses BLOB_BACKEND=azure",
	"MAIL_OUTBOX_DIR":    "MAIL_BACKEND=outbox only (dev); defaults to DATA_DIR/outbox",
	"AUTH_DEV_KEY":       "AUTH_MODE=dev only, which config refuses on Azure",
	"PPROF_ADDR":         "standalone only: a profiling listener is never opened on Azure",
	"DEMO_TENANT":        "standalone only: the Azure host never creates the demo tenant",
	"PRIVOPS_CRASHPOINT": "crash tests only; ignored on Azure",

	// Key-based alternatives the resources refuse: the app uses its identity.
	"COSMOS_KEY":                   "COSMOS_AUTH=identity; the account disables key auth (cosmos.bicep disableKeyAuth)",
	"SERVICEBUS_CONNECTION_STRING": "identity through SERVICEBUS_NAMESPACE; the namespace disables SAS keys",
	"BLOB_CONNECTION_STRING":       "identity through BLOB_ACCOUNT_URL; the account refuses shared keys",

	// Optional tuning: the config default applies (README, Configuration);
	// set one in main.bicep's app settings to override it.
	"CODE_TTL":                    "optional, default 15m",
	"CODE_MAX_ATTEMPTS":           "optional, default 5",
	"OUTBOX_LEASE":                "optional, default 2m",
	"PORTAL_MAX_BODY_BYTES":       "optional, default 16384",
	"ADMIN_MAX_BODY_BYTES":        "optional, default 65536",
	"RATE_SUBMIT_PER_IP":          "optional, default 30/min per instance",
	"RATE_SUBMIT_PER_EMAIL":       "optional, default 5/hour per instance",
	"RATE_VERIFY_PER_IP":          "optional, default 60/min per instance",
	"TASK_LEASE":                  "optional, default 5m",
	"TASK_RETRY_BASE":             "optional, default 30s",
	"TASK_RETRY_CAP":              "optional, default 1h",
	"TASK_MAX_ATTEMPTS":           "optional, default 10",
	"WEBHOOK_TIMEOUT":             "optional, default 30s",
	"MAX_EXPORT_BYTES":            "optional, default 2 GiB",
	"INBOUND_WINDOW":              "optional, default 5m (signature replay window)",
	"INBOUND_KEEP_REJECTED":       "optional, default 336h (rejected inbound bodies)",
	"DEADLETTER_KEEP":             "optional, default 336h (dead-lettered bodies)",
	"RETENTION_BUDGET":            "optional, default 2m (one retention job invocation)",
	"RETENTION_LEASE":             "optional, default 5m (a retention run's lease)",
	"RETENTION_PAGE_SIZE":         "optional, default 500 (items per retention page)",
	"OFFBOARD_PAGE_SIZE":          "optional, default 500 (documents per offboarding purge page)",
	"RETENTION_PAGE_PAUSE_MS":     "optional, default 0 (pause after each retention page)",
	"BREACH_SEND_BATCH":           "optional, default 500 (recipients per breach batch message)",
	"BREACH_SEND_RATE":            "optional, default 100 (breach mails per second per instance)",
	"BREACH_SEND_CONNECTIONS":     "optional, default 4 (the breach lane's parallel sends and SMTP connections)",
	"BREACH_SEND_PARALLEL":        "optional, default 16 (breach senders per batch)",
	"BREACH_SEND_MAX_ATTEMPTS":    "optional, default 5 (sends of one breach mail)",
	"BREACH_SEND_RETRY_BASE":      "optional, default 1m (first breach mail retry backoff)",
	"BREACH_RECIPIENTS_KEEP":      "optional, default 720h (recipient lists after the campaign)",
	"BREACH_RECIPIENTS_MAX":       "optional, default 5000000 (recipients per list)",
	"BREACH_RECIPIENTS_MAX_BYTES": "optional, default 1 GiB (one recipient upload)",
}

// hostSettings are app settings the Functions host reads, not shared/config.
var hostSettings = []string{
	"AzureWebJobsStorage__accountName",
	"APPLICATIONINSIGHTS_CONNECTION_STRING",
	"APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}

// flexRefused are settings a Flex Consumption app must not carry: the plan
// takes them from functionAppConfig, or does not support them.
var flexRefused = []string{
	"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME_VERSION",
	"WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
	"SCM_DO_BUILD_DURING_DEPLOYMENT", "WEBSITE_NODE_DEFAULT_VERSION",
	"AzureWebJobsStorage", // the identity-based form is AzureWebJobsStorage__accountName
}

// ---------------------------------------------------------------- reading Bicep

// bicepFile is one Bicep file, with a copy in which strings (interpolations
// included) and comments are blanked out, so braces, keys and declarations
// are found only in code.
type bicepFile struct {
	path   string
	src    string
	masked string
}

func readBicep(tb testing.TB, path string) bicepFile {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	src := strings.ReplaceAll(string(raw), "\r\n", "\n")
	return bicepFile{path: path, src: src, masked: maskBicep(src)}
}

// maskBicep replaces the inside of every string with '_' and every comment
// with spaces, keeping offsets and newlines.
func maskBicep(src string) string {
	out := []byte(src)
	blank := func(from, to int, c byte) {
		for i := from; i < to && i < len(out); i++ {
			if out[i] != '\n' {
				out[i] = c
			}
		}
	}
	for i := 0; i < len(src); {
		switch {
		case strings.HasPrefix(src[i:], "//"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			blank(i, i+end, ' ')
			i += end
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				end = len(src) - i - 2
			}
			blank(i, i+end+4, ' ')
			i += end + 4
		case src[i] == '\'':
			end := stringEnd(src, i)
			blank(i+1, end-1, '_')
			i = end
		default:
			i++
		}
	}
	return string(out)
}

// stringEnd returns the offset after the string that starts at src[i] ('),
// stepping over escapes and ${...} interpolations (which may hold strings).
func stringEnd(src string, i int) int {
	for i++; i < len(src); {
		switch {
		case src[i] == '\\':
			i += 2
		case src[i] == '\'':
			return i + 1
		case strings.HasPrefix(src[i:], "${"):
			i = codeEnd(src, i+2) + 1
		default:
			i++
		}
	}
	return len(src)
}

// codeEnd returns the offset of the '}' that closes the code starting at i.
func codeEnd(src string, i int) int {
	depth := 0
	for i < len(src) {
		switch {
		case src[i] == '\'':
			i = stringEnd(src, i)
			continue
		case src[i] == '{':
			depth++
		case src[i] == '}':
			if depth == 0 {
				return i
			}
			depth--
		}
		i++
	}
	return len(src)
}

// block returns the offsets of the body of the first '{' after the first
// match of start that begins in code (not in a comment or string), without
// the braces.
func (b bicepFile) block(tb testing.TB, start string) (from, to int) {
	tb.Helper()
	re := regexp.MustCompile(start)
	for _, loc := range re.FindAllStringIndex(b.src, -1) {
		if b.masked[loc[0]] != b.src[loc[0]] {
			continue // inside a comment or string
		}
		if from, to, ok := b.blockAt(loc[1]); ok {
			return from, to
		}
		break
	}
	tb.Fatalf("%s: no block after %q", b.path, start)
	return 0, 0
}

// blockAt returns the body of the first '{' at or after offset pos.
func (b bicepFile) blockAt(pos int) (from, to int, ok bool) {
	open := strings.IndexByte(b.masked[pos:], '{')
	if open < 0 {
		return 0, 0, false
	}
	open += pos
	depth := 0
	for i := open; i < len(b.masked); i++ {
		switch b.masked[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return open + 1, i, true
			}
		}
	}
	return 0, 0, false
}

// text returns the source of a block.
func (b bicepFile) text(tb testing.TB, start string) string {
	tb.Helper()
	from, to := b.block(tb, start)
	return b.src[from:to]
}

var bicepKey = regexp.MustCompile(`^\s*(?:'([^']+)'|([A-Za-z_][A-Za-z0-9_]*))\s*:\s*(.*)$`)

// entries returns the top-level `key: value` lines of a block body (values
// without a trailing comment; a value that opens a nested object or array is
// returned as its first line).
func (b bicepFile) entries(tb testing.TB, start string) map[string]string {
	tb.Helper()
	from, to := b.block(tb, start)
	out := map[string]string{}
	depth := 0
	for off := from; off < to; {
		end := strings.IndexByte(b.masked[off:to], '\n')
		if end < 0 {
			end = to - off
		}
		line, masked := b.src[off:off+end], b.masked[off:off+end]
		if depth == 0 {
			code := len(strings.TrimRight(masked, " \t"))
			if m := bicepKey.FindStringSubmatch(line[:code]); m != nil {
				key := m[1] + m[2]
				if _, dup := out[key]; dup {
					tb.Errorf("%s: %s is set twice", b.path, key)
				}
				out[key] = strings.TrimSpace(m[3])
			}
		}
		for _, c := range masked {
			switch c {
			case '{', '[', '(':
				depth++
			case '}', ']', ')':
				depth--
			}
		}
		off += end + 1
	}
	return out
}

var bicepDecl = regexp.MustCompile(`^(var|param)\s+(\w+)\s+(?:(\w+)\s*)?=\s*(.*)$`)

// decl returns the expression a top-level `var name = ...` or the default a
// `param name type = ...` gives, without a trailing comment.
func (b bicepFile) decl(name string) (string, bool) {
	lines, masked := strings.Split(b.src, "\n"), strings.Split(b.masked, "\n")
	for i, line := range lines {
		code := line[:len(strings.TrimRight(masked[i], " \t"))]
		if m := bicepDecl.FindStringSubmatch(code); m != nil && m[2] == name {
			if m[1] == "var" && m[3] != "" { // `var x = ...` has no type
				continue
			}
			return strings.TrimSpace(m[4]), true
		}
	}
	return "", false
}

var (
	bicepIdent  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	bicepNumber = regexp.MustCompile(`^-?\d+$`)
)

// literal resolves expr to a constant: a string without interpolation, a
// number, true or false, or the name of a var or a param default that is one.
func (b bicepFile) literal(expr string) (string, bool) {
	expr = strings.TrimSpace(expr)
	switch {
	case len(expr) >= 2 && expr[0] == '\'' && stringEnd(expr, 0) == len(expr):
		body := expr[1 : len(expr)-1]
		if strings.Contains(body, "${") {
			return "", false
		}
		return strings.NewReplacer(`\'`, `'`, `\\`, `\`, `\n`, "\n").Replace(body), true
	case bicepNumber.MatchString(expr), expr == "true", expr == "false":
		return expr, true
	case bicepIdent.MatchString(expr):
		if d, ok := b.decl(expr); ok {
			return b.literal(d)
		}
	}
	return "", false
}

// list returns the items of an array value written one per line under key
// in the block that start opens.
func (b bicepFile) list(tb testing.TB, start, key string) []string {
	tb.Helper()
	body := b.text(tb, start)
	_, after, ok := strings.Cut(body, key+": [")
	if !ok {
		tb.Fatalf("%s: no %s: [ ... ] in the block after %q", b.path, key, start)
	}
	items, _, _ := strings.Cut(after, "]")
	var out []string
	for _, it := range strings.Split(items, "\n") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// resolvedList is list with each item resolved to its literal.
func (b bicepFile) resolvedList(tb testing.TB, start, key string) []string {
	tb.Helper()
	var out []string
	for _, it := range b.list(tb, start, key) {
		v, ok := b.literal(it)
		if !ok {
			tb.Errorf("%s: %s item %q is not a constant", b.path, key, it)
			continue
		}
		out = append(out, v)
	}
	return out
}

// ---------------------------------------------------------------- the infra

// infra is main.bicep with the app settings its sites/config resource sets.
type infra struct {
	main     bicepFile
	settings map[string]string // app setting -> Bicep expression
}

const appSettingsBlock = `(?m)^resource \w+ 'Microsoft\.Web/sites/config@[^']+'`

func loadInfra(tb testing.TB) infra {
	tb.Helper()
	main := readBicep(tb, filepath.Join(infraDir, "main.bicep"))
	body := main.text(tb, appSettingsBlock)
	if !regexp.MustCompile(`(?m)^\s*name: 'appsettings'`).MatchString(body) {
		tb.Fatal("main.bicep: the sites/config resource is not named appsettings")
	}
	return infra{main: main, settings: main.entries(tb, appSettingsBlock+`(?s).*?properties:`)}
}

// setting resolves an app setting to its constant value.
func (in infra) setting(tb testing.TB, name string) string {
	tb.Helper()
	expr, ok := in.settings[name]
	if !ok {
		tb.Fatalf("app setting %s is not set in main.bicep", name)
	}
	v, ok := in.main.literal(expr)
	if !ok {
		tb.Fatalf("app setting %s = %s is not a constant main.bicep can be checked by", name, expr)
	}
	return v
}

// configSettings returns shared/config's settings: envconfig name -> field.
func configSettings() map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	rt := reflect.TypeOf(config.Config{})
	for i := range rt.NumField() {
		if name := rt.Field(i).Tag.Get("envconfig"); name != "" {
			out[name] = rt.Field(i)
		}
	}
	return out
}

// configDefault is a setting's default as its envconfig tag states it.
func configDefault(tb testing.TB, name string) string {
	tb.Helper()
	f, ok := configSettings()[name]
	if !ok {
		tb.Fatalf("%s is not a shared/config setting", name)
	}
	return f.Tag.Get("default")
}

// binding is one function.json binding.
type binding struct {
	Function string
	Type     string
	Props    map[string]any
}

func (b binding) str(key string) string {
	for k, v := range b.Props {
		if strings.EqualFold(k, key) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// functionBindings reads every functions/*/function.json.
func functionBindings(tb testing.TB) []binding {
	tb.Helper()
	files, err := filepath.Glob("*/function.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no function.json found (%v)", err)
	}
	var out []binding
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var doc struct{ Bindings []map[string]any }
		if err := json.Unmarshal(raw, &doc); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		for _, p := range doc.Bindings {
			b := binding{Function: filepath.Dir(f), Props: p}
			b.Type = strings.ToLower(b.str("type"))
			out = append(out, b)
		}
	}
	return out
}

var settingRef = regexp.MustCompile(`%([^%]+)%`)

// settingRefs returns the %SETTING% names a binding's string properties use.
func (b binding) settingRefs() map[string]string {
	out := map[string]string{} // setting -> property
	for k, v := range b.Props {
		if s, ok := v.(string); ok {
			for _, m := range settingRef.FindAllStringSubmatch(s, -1) {
				out[m[1]] = k
			}
		}
	}
	return out
}

// resolve expands %SETTING% references in a binding property through the
// app settings main.bicep declares: what the Functions host will read.
func (in infra) resolve(tb testing.TB, s string) string {
	tb.Helper()
	return settingRef.ReplaceAllStringFunc(s, func(ref string) string {
		return in.setting(tb, strings.Trim(ref, "%"))
	})
}

// ---------------------------------------------------------------- tests

// TestInfraBindingSettingsAreAppSettings: the Functions host resolves a
// function.json's %SETTING% from the app settings only (a config default is
// not enough), and each must equal the config default the standalone host
// resolves it through, so both hosts use the same queues and schedules.
func TestInfraBindingSettingsAreAppSettings(t *testing.T) {
	t.Parallel()
	in := loadInfra(t)
	n := 0
	for _, b := range functionBindings(t) {
		for name, prop := range b.settingRefs() {
			n++
			t.Run(b.Function+"/"+prop+"/"+name, func(t *testing.T) {
				t.Parallel()
				if got, want := in.setting(t, name), configDefault(t, name); got != want {
					t.Errorf("app setting %s = %q, config default %q: Azure and standalone would differ", name, got, want)
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("no %SETTING% reference found in any function.json: the reading is broken")
	}
}

// TestInfraQueuesAreDeclared: every queue a function receives from or the
// code publishes to (the *_QUEUE settings) is a queue of the Service Bus
// module, and every trigger queue gets the receive role.
func TestInfraQueuesAreDeclared(t *testing.T) {
	t.Parallel()
	in := loadInfra(t)
	declared := in.main.resolvedList(t, `(?m)^module \w+ 'modules/servicebus\.bicep'`, "queueNames")
	owners := in.main.resolvedList(t, `(?m)^module \w+ 'modules/roles\.bicep'`, "triggerQueueNames")

	type use struct{ name, queue string }
	var uses []use
	var triggers []string
	for _, b := range functionBindings(t) {
		if b.Type == "servicebustrigger" {
			q := in.resolve(t, b.str("queueName"))
			uses = append(uses, use{b.Function + " trigger", q})
			triggers = append(triggers, q)
		}
	}
	for name := range configSettings() {
		if strings.HasSuffix(name, "_QUEUE") {
			uses = append(uses, use{name, in.setting(t, name)})
		}
	}
	if len(triggers) == 0 {
		t.Fatal("no serviceBusTrigger found")
	}
	for _, u := range uses {
		if !slices.Contains(declared, u.queue) {
			t.Errorf("%s uses queue %q, which main.bicep does not create (queueNames: %v)", u.name, u.queue, declared)
		}
	}
	slices.Sort(triggers)
	slices.Sort(owners)
	if d := cmp.Diff(slices.Compact(triggers), slices.Compact(owners)); d != "" {
		t.Errorf("trigger queues vs the roles module's triggerQueueNames (-functions +bicep):\n%s", d)
	}
}

// isoDuration parses the ISO 8601 durations Service Bus uses (P14D, PT1M).
func isoDuration(tb testing.TB, s string) time.Duration {
	tb.Helper()
	m := regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`).FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		tb.Fatalf("%q is not an ISO 8601 duration of days, hours, minutes and seconds", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * unit
		}
	}
	return d
}

// timeSpan parses a host.json TimeSpan ([d.]hh:mm:ss).
func timeSpan(tb testing.TB, s string) time.Duration {
	tb.Helper()
	var days, h, m, sec int
	if _, err := fmt.Sscanf(s, "%d.%d:%d:%d", &days, &h, &m, &sec); err != nil {
		days = 0
		if _, err := fmt.Sscanf(s, "%d:%d:%d", &h, &m, &sec); err != nil {
			tb.Fatalf("%q is not a TimeSpan", s)
		}
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
}

type hostJSON struct {
	FunctionTimeout string
	ExtensionBundle struct{ ID, Version string }
	CustomHandler   struct {
		Description struct {
			DefaultExecutablePath string
			WorkingDirectory      string
		}
	}
	Extensions struct {
		ServiceBus struct {
			MaxAutoLockRenewalDuration string
			AutoCompleteMessages       *bool
		}
	}
}

func readHostJSON(tb testing.TB, path string) hostJSON {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var h hostJSON
	if err := json.Unmarshal(raw, &h); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return h
}

// TestInfraQueueSettings: the queues are made the way shared/servicebus
// needs them, and the lock outlives neither the host's renewal nor a sane
// redelivery delay.
func TestInfraQueueSettings(t *testing.T) {
	t.Parallel()
	sb := readBicep(t, filepath.Join(infraDir, "modules", "servicebus.bicep"))
	nsProps := sb.entries(t, `(?m)^resource \w+ 'Microsoft\.ServiceBus/namespaces@(?s).*?properties:`)
	sku := sb.entries(t, `(?m)^resource \w+ 'Microsoft\.ServiceBus/namespaces@(?s).*?sku:`)
	q := sb.entries(t, `(?m)^resource \w+ 'Microsoft\.ServiceBus/namespaces/queues@(?s).*?properties:`)
	if tier, _ := sb.literal(sku["name"]); tier != "Standard" && tier != "Premium" {
		t.Errorf("namespace sku %q: duplicate detection needs Standard or Premium", tier)
	}
	if v, _ := sb.literal(nsProps["disableLocalAuth"]); v != "true" {
		t.Error("the namespace accepts SAS keys (disableLocalAuth is not true)")
	}
	if !regexp.MustCompile(`(?m)^\s*for \w+ in queueNames:`).MatchString(sb.src) {
		t.Error("the queues are not one per queueNames item")
	}

	host := readHostJSON(t, "../host.json")
	timeout := timeSpan(t, host.FunctionTimeout)
	renewal := timeSpan(t, host.Extensions.ServiceBus.MaxAutoLockRenewalDuration)
	if renewal < timeout {
		t.Errorf("host.json maxAutoLockRenewalDuration %s < functionTimeout %s: a long run loses its lock and the message is delivered again while it runs", renewal, timeout)
	}

	tests := []struct {
		key   string
		check func(tb testing.TB, v string) error
	}{
		{"requiresDuplicateDetection", wantValue("true")},
		{"deadLetteringOnMessageExpiration", wantValue("true")},
		{"requiresSession", wantValue("false")},
		{"enablePartitioning", wantValue("false")},
		{"maxDeliveryCount", func(_ testing.TB, v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 5 {
				return fmt.Errorf("%s: at least 5 deliveries ride out a dependency's outage before dead-lettering", v)
			}
			return nil
		}},
		{"lockDuration", func(tb testing.TB, v string) error {
			d := isoDuration(tb, v)
			switch {
			case d > 5*time.Minute:
				return fmt.Errorf("%s: Service Bus allows at most 5 minutes", d)
			case d < 30*time.Second:
				return fmt.Errorf("%s: under 30 s the host spends its time renewing locks", d)
			case d > renewal:
				return fmt.Errorf("%s exceeds the host's lock renewal %s", d, renewal)
			}
			return nil
		}},
		{"duplicateDetectionHistoryTimeWindow", func(tb testing.TB, v string) error {
			if d := isoDuration(tb, v); d < 2*time.Hour || d > 7*24*time.Hour {
				return fmt.Errorf("%s: the hourly watch may publish an id again, so hours (at most the 7-day limit)", d)
			}
			return nil
		}},
		{"defaultMessageTimeToLive", func(tb testing.TB, v string) error {
			if d := isoDuration(tb, v); d < 24*time.Hour {
				return fmt.Errorf("%s: a scheduled retry (up to TASK_RETRY_CAP) must not expire first", d)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			expr, ok := q[tt.key]
			if !ok {
				t.Fatalf("queue property %s is not set", tt.key)
			}
			v, ok := sb.literal(expr)
			if !ok {
				t.Fatalf("queue property %s = %q is not a constant", tt.key, expr)
			}
			if err := tt.check(t, v); err != nil {
				t.Errorf("%s: %v", tt.key, err)
			}
		})
	}
}

// wantValue checks a constant against want.
func wantValue(want string) func(testing.TB, string) error {
	return func(_ testing.TB, v string) error {
		if v != want {
			return fmt.Errorf("%s, want %s", v, want)
		}
		return nil
	}
}

// TestInfraAppSettingsCoverConfig: every shared/config setting is set in
// main.bicep or exempted with a reason, and every app setting is read by
// someone (the code, the host, a binding's connection, or the host's switch
// for a function).
func TestInfraAppSettingsCoverConfig(t *testing.T) {
	t.Parallel()
	in := loadInfra(t)
	settings := configSettings()
	for name := range settings {
		_, set := in.settings[name]
		reason, exempt := azureOnlyExempt[name]
		switch {
		case set && exempt:
			t.Errorf("%s is set in main.bicep and exempted (%s): drop one", name, reason)
		case !set && !exempt:
			t.Errorf("%s (shared/config) is neither an app setting in main.bicep nor in azureOnlyExempt with a reason", name)
		}
	}
	for name := range azureOnlyExempt {
		if _, ok := settings[name]; !ok {
			t.Errorf("azureOnlyExempt names %s, which shared/config no longer reads", name)
		}
	}

	connections := map[string]bool{}
	functions := map[string]bool{}
	for _, b := range functionBindings(t) {
		functions[b.Function] = true
		if c := b.str("connection"); c != "" {
			connections[c] = true
		}
	}
	disabled := regexp.MustCompile(`^AzureWebJobs\.(.+)\.Disabled$`)
	for name := range in.settings {
		prefix, _, identityBased := strings.Cut(name, "__")
		switch m := disabled.FindStringSubmatch(name); {
		case settings[name].Name != "", slices.Contains(hostSettings, name):
		case identityBased && connections[prefix]:
		case m != nil && functions[m[1]]:
		default:
			t.Errorf("app setting %s is read by nothing: not shared/config, not the host, no binding's connection, no function", name)
		}
	}
	for _, name := range flexRefused {
		if _, ok := in.settings[name]; ok {
			t.Errorf("app setting %s is refused or ignored on Flex Consumption", name)
		}
	}
	for _, name := range hostSettings {
		if _, ok := in.settings[name]; !ok {
			t.Errorf("host setting %s is missing", name)
		}
	}
}

// TestInfraSecretsComeFromKeyVault: a secret setting is a Key Vault
// reference (or empty), and no template reads or writes a key.
func TestInfraSecretsComeFromKeyVault(t *testing.T) {
	t.Parallel()
	in := loadInfra(t)
	for name, f := range configSettings() {
		expr, set := in.settings[name]
		if f.Tag.Get("secret") == "" || !set {
			continue
		}
		if bicepIdent.MatchString(expr) {
			expr, _ = in.main.decl(expr)
		}
		if !strings.Contains(expr, "'@Microsoft.KeyVault(SecretUri=${") {
			t.Errorf("secret %s = %s is not a Key Vault reference", name, expr)
		}
		for _, lit := range regexp.MustCompile(`'[^']*'`).FindAllString(withoutInterpolations(expr), -1) {
			if lit != "''" && !strings.HasPrefix(lit, "'@Microsoft.KeyVault(") {
				t.Errorf("secret %s carries a literal %s", name, lit)
			}
		}
	}
	if _, ok := in.settings["SECRET_KEY"]; !ok {
		t.Error("SECRET_KEY (required on Azure) is not an app setting")
	}

	files, err := filepath.Glob(filepath.Join(infraDir, "*.bicep"))
	if err != nil {
		t.Fatal(err)
	}
	modules, err := filepath.Glob(filepath.Join(infraDir, "modules", "*.bicep"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, modules...) {
		b := readBicep(t, f)
		code := stripComments(b)
		for _, bad := range []string{"listKeys(", "listConnectionStrings(", "AccountKey=", "SharedAccessKey", "@secure()"} {
			if strings.Contains(code, bad) {
				t.Errorf("%s uses %s: the app reaches everything with its identity, and no secret value passes through a template", f, bad)
			}
		}
	}
	identityOnly := []struct {
		file, block, key, want string
	}{
		{"modules/storage.bicep", `(?m)^resource \w+ 'Microsoft\.Storage/storageAccounts@(?s).*?properties:`, "allowSharedKeyAccess", "false"},
		{"modules/servicebus.bicep", `(?m)^resource \w+ 'Microsoft\.ServiceBus/namespaces@(?s).*?properties:`, "disableLocalAuth", "true"},
		{"modules/keyvault.bicep", `(?m)^resource \w+ 'Microsoft\.KeyVault/vaults@(?s).*?properties:`, "enableRbacAuthorization", "true"},
		{"modules/monitoring.bicep", `(?m)^resource \w+ 'Microsoft\.Insights/components@(?s).*?properties:`, "DisableLocalAuth", "true"},
		{"main.bicep", `(?m)^module \w+ 'cosmos\.bicep'(?s).*?params:`, "disableKeyAuth", "true"},
	}
	for _, tt := range identityOnly {
		t.Run(tt.file+"/"+tt.key, func(t *testing.T) {
			b := readBicep(t, filepath.Join(infraDir, tt.file))
			if got, _ := b.literal(b.entries(t, tt.block)[tt.key]); got != tt.want {
				t.Errorf("%s = %q, want %s", tt.key, got, tt.want)
			}
		})
	}
}

// withoutInterpolations returns expr with its ${...} removed, so only the
// literal text is left between quotes.
func withoutInterpolations(expr string) string {
	return regexp.MustCompile(`\$\{[^}]*\}`).ReplaceAllString(expr, "")
}

// stripComments returns the source with its comments blanked (strings kept).
func stripComments(b bicepFile) string {
	out := []byte(b.src)
	for i := range out {
		if b.masked[i] == ' ' && b.src[i] != ' ' && b.src[i] != '\t' {
			out[i] = ' '
		}
	}
	return string(out)
}

// TestInfraConnectionsAreIdentityBased: each connection a function.json
// names is configured by identity (the __ form), never as a connection
// string.
func TestInfraConnectionsAreIdentityBased(t *testing.T) {
	t.Parallel()
	in := loadInfra(t)
	suffix := map[string]string{
		"servicebustrigger": "__fullyQualifiedNamespace",
		"servicebus":        "__fullyQualifiedNamespace",
		"cosmosdbtrigger":   "__accountEndpoint",
		"cosmosdb":          "__accountEndpoint",
	}
	n := 0
	for _, b := range functionBindings(t) {
		c := b.str("connection")
		if c == "" {
			continue
		}
		n++
		t.Run(b.Function+"/"+c, func(t *testing.T) {
			t.Parallel()
			sfx, ok := suffix[b.Type]
			if !ok {
				t.Fatalf("binding type %s has a connection this test has no rule for: add one", b.Type)
			}
			if _, ok := in.settings[c+sfx]; !ok {
				t.Errorf("%s: app setting %s%s is missing (identity-based connection)", b.Function, c, sfx)
			}
			if _, ok := in.settings[c]; ok {
				t.Errorf("%s: app setting %s is a connection string; use %s%s", b.Function, c, c, sfx)
			}
		})
	}
	if n == 0 {
		t.Fatal("no binding names a connection: the reading is broken")
	}
	if _, ok := in.settings["ServiceBusConnection__fullyQualifiedNamespace"]; !ok {
		t.Error("ServiceBusConnection__fullyQualifiedNamespace is not set")
	}
}

// TestInfraCosmosWiring: main.bicep deploys cosmos.bicep (whose containers
// shared/cosmos checks) for the app's identity, points the app at it, and
// declares the containers the change-feed triggers read and lease.
func TestInfraCosmosWiring(t *testing.T) {
	t.Parallel()
	in := loadInfra(t)
	params := in.main.entries(t, `(?m)^module \w+ 'cosmos\.bicep'(?s).*?params:`)
	if params["dataPrincipalId"] != "functionApp.outputs.principalId" {
		t.Errorf("cosmos.bicep's dataPrincipalId = %q, want the Function App's identity", params["dataPrincipalId"])
	}
	db, ok := in.main.literal(params["databaseName"])
	if !ok || db != cosmos.DefaultDatabase || db != configDefault(t, "COSMOS_DATABASE") {
		t.Errorf("cosmos.bicep's databaseName = %q, want %q (COSMOS_DATABASE's default)", db, cosmos.DefaultDatabase)
	}
	if got := in.setting(t, "COSMOS_DATABASE"); got != db {
		t.Errorf("COSMOS_DATABASE = %q, the module deploys %q", got, db)
	}
	for _, name := range []string{"COSMOS_ENDPOINT", "CosmosDbConnection__accountEndpoint"} {
		if expr, ok := in.settings[name]; ok && expr != "cosmos.outputs.endpoint" {
			t.Errorf("%s = %s, want cosmos.outputs.endpoint", name, expr)
		}
	}
	if got := in.setting(t, "STORE_BACKEND"); got != "cosmos" {
		t.Errorf("STORE_BACKEND = %q", got)
	}
	if got := in.setting(t, "COSMOS_AUTH"); got != "identity" {
		t.Errorf("COSMOS_AUTH = %q", got)
	}

	store := map[string]bool{}
	for _, c := range cosmos.Containers {
		store[c.Name] = true
	}
	leases := declaredContainers(t, filepath.Join(infraDir, "modules", "leases.bicep"))
	for _, b := range functionBindings(t) {
		if b.Type != "cosmosdbtrigger" {
			continue
		}
		if got := in.resolve(t, b.str("databaseName")); got != db {
			t.Errorf("%s reads database %q, infra deploys %q", b.Function, got, db)
		}
		if c := in.resolve(t, b.str("containerName")); !store[c] {
			t.Errorf("%s reads container %q, which cosmos.bicep does not declare", b.Function, c)
		}
		lease := b.str("leaseContainerName")
		if lease == "" {
			lease = "leases" // the extension's default
		}
		lease = in.resolve(t, lease)
		if pk, ok := leases[lease]; !ok {
			t.Errorf("%s leases in container %q, which infra/modules/leases.bicep does not declare", b.Function, lease)
		} else if pk != "/id" {
			t.Errorf("lease container %s is partitioned by %s; the extension needs /id", lease, pk)
		}
		if store[lease] {
			t.Errorf("%s leases in the store's own container %q", b.Function, lease)
		}
	}
	if !regexp.MustCompile(`(?m)^module \w+ 'modules/leases\.bicep'`).MatchString(in.main.src) {
		t.Error("main.bicep does not deploy modules/leases.bicep")
	}
}

// declaredContainers returns the Cosmos containers a Bicep file declares and
// their first partition key path.
func declaredContainers(tb testing.TB, path string) map[string]string {
	tb.Helper()
	b := readBicep(tb, path)
	re := regexp.MustCompile(`(?m)^resource \w+ 'Microsoft\.DocumentDB/databaseAccounts/sqlDatabases/containers@`)
	out := map[string]string{}
	for _, loc := range re.FindAllStringIndex(b.src, -1) {
		_, to, ok := b.blockAt(loc[1])
		if !ok {
			tb.Fatalf("%s: a container resource without a body", path)
		}
		body := b.src[loc[0]:to]
		name := regexp.MustCompile(`(?m)^  name: '([^']+)'`).FindStringSubmatch(body)
		pk := regexp.MustCompile(`paths: \[\s*'([^']+)'`).FindStringSubmatch(body)
		if name == nil || pk == nil {
			tb.Fatalf("%s: a container without a literal name or partition key", path)
		}
		out[name[1]] = pk[1]
	}
	return out
}

// longestExportLink is the longest download link a tenant can configure,
// found by asking the tenant validation itself.
func longestExportLink(tb testing.TB) time.Duration {
	tb.Helper()
	longest := time.Duration(0)
	for days := 0; days <= 3650; days++ {
		tn := privacy.Tenant{ID: "acme", Name: "Acme", TimeZone: "UTC", PIPLDays: 30, DefaultDays: 30, ExportLinkDays: days}
		if tn.Validate() == nil && tn.LinkTTL() > longest {
			longest = tn.LinkTTL()
		}
	}
	if longest == 0 {
		tb.Fatal("no tenant validates: the probe is out of date")
	}
	return longest
}

// TestInfraExportsContainer: the exports container the code writes to exists,
// and the lifecycle rule deletes its blobs only after the longest download
// link has expired.
func TestInfraExportsContainer(t *testing.T) {
	t.Parallel()
	in := loadInfra(t)
	container := in.setting(t, "BLOB_CONTAINER")
	if want := configDefault(t, "BLOB_CONTAINER"); container != want {
		t.Errorf("BLOB_CONTAINER = %q, config default %q", container, want)
	}
	if got := in.setting(t, "BLOB_BACKEND"); got != "azure" {
		t.Errorf("BLOB_BACKEND = %q", got)
	}
	if in.settings["BLOB_ACCOUNT_URL"] != "storage.outputs.blobEndpoint" {
		t.Errorf("BLOB_ACCOUNT_URL = %s, want storage.outputs.blobEndpoint", in.settings["BLOB_ACCOUNT_URL"])
	}
	params := in.main.entries(t, `(?m)^module \w+ 'modules/storage\.bicep'(?s).*?params:`)
	if got, _ := in.main.literal(params["exportsContainerName"]); got != container {
		t.Errorf("the storage module creates exports container %q, the app writes to %q", got, container)
	}

	st := readBicep(t, filepath.Join(infraDir, "modules", "storage.bicep"))
	if !regexp.MustCompile(`(?m)^resource (\w+) 'Microsoft\.Storage/storageAccounts/blobServices/containers@[^']+' = \{\n(?:.*\n)*?  name: exportsContainerName\n`).MatchString(st.src) {
		t.Error("storage.bicep declares no container named exportsContainerName")
	}
	rule := st.text(t, `(?m)^resource \w+ 'Microsoft\.Storage/storageAccounts/managementPolicies@`)
	if !strings.Contains(rule, "'${exportsContainer.name}/'") {
		t.Error("the lifecycle rule does not match the exports container")
	}
	if !regexp.MustCompile(`delete: \{\s*daysAfterModificationGreaterThan: exportRetentionDays\s*\}`).MatchString(rule) {
		t.Error("the lifecycle rule does not delete after exportRetentionDays")
	}
	if params["exportRetentionDays"] != "exportRetentionDays" {
		t.Errorf("main.bicep passes exportRetentionDays = %q to the storage module", params["exportRetentionDays"])
	}

	// The rule counts whole days after the last write; the link runs from the
	// package's creation: keep at least a day more than the longest link.
	link := longestExportLink(t)
	floor := int(link/(24*time.Hour)) + 1
	days := map[string]string{}
	if d, ok := in.main.decl("exportRetentionDays"); ok {
		days["main.bicep default"] = d
	}
	for _, f := range paramFiles(t) {
		if v, ok := paramValues(t, f)["exportRetentionDays"]; ok {
			days[filepath.Base(f)] = v
		}
	}
	if len(days) == 0 {
		t.Fatal("exportRetentionDays has no default and no value")
	}
	for where, expr := range days {
		v, ok := in.main.literal(expr)
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Errorf("%s: exportRetentionDays = %q is not a number", where, expr)
			continue
		}
		if n < floor {
			t.Errorf("%s: exportRetentionDays %d deletes packages before their link (up to %s) expires; at least %d", where, n, link, floor)
		}
	}
	minValue := regexp.MustCompile(`@minValue\((\d+)\)\s*param exportRetentionDays int`)
	for _, b := range []bicepFile{in.main, st} {
		m := minValue.FindStringSubmatch(b.src)
		if m == nil {
			t.Errorf("%s: exportRetentionDays has no @minValue", b.path)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n < floor {
			t.Errorf("%s: exportRetentionDays has no @minValue of at least %d", b.path, floor)
		}
	}
}

func paramFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(infraDir, "params", "*.bicepparam"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no infra/params/*.bicepparam (%v)", err)
	}
	return files
}

// paramValues returns the `param name = expr` lines of a .bicepparam file.
func paramValues(tb testing.TB, path string) map[string]string {
	tb.Helper()
	b := readBicep(tb, path)
	out := map[string]string{}
	lines, masked := strings.Split(b.src, "\n"), strings.Split(b.masked, "\n")
	re := regexp.MustCompile(`^param\s+(\w+)\s*=\s*(.*)$`)
	for i, line := range lines {
		if m := re.FindStringSubmatch(line[:len(strings.TrimRight(masked[i], " \t"))]); m != nil {
			out[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return out
}

// TestInfraParamFiles: each environment's file uses main.bicep, sets only
// parameters main.bicep declares, and sets every one without a default.
func TestInfraParamFiles(t *testing.T) {
	t.Parallel()
	main := readBicep(t, filepath.Join(infraDir, "main.bicep"))
	declared := map[string]bool{}
	required := map[string]bool{}
	re := regexp.MustCompile(`(?m)^param (\w+) (\w+)( =)?`)
	for _, m := range re.FindAllStringSubmatch(main.src, -1) {
		declared[m[1]] = true
		if m[3] == "" {
			required[m[1]] = true
		}
	}
	for _, want := range []string{"environmentName", "authAudience", "mailFrom"} {
		if !required[want] {
			t.Errorf("main.bicep: %s should be required (no default)", want)
		}
	}
	for _, f := range paramFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			b := readBicep(t, f)
			if !regexp.MustCompile(`(?m)^using '\.\./main\.bicep'$`).MatchString(b.src) {
				t.Error("does not start from using '../main.bicep'")
			}
			values := paramValues(t, f)
			for name := range values {
				if !declared[name] {
					t.Errorf("sets %s, which main.bicep does not declare", name)
				}
			}
			for name := range required {
				if _, ok := values[name]; !ok {
					t.Errorf("does not set %s, which main.bicep requires", name)
				}
			}
			env := strings.TrimSuffix(filepath.Base(f), ".bicepparam")
			if got, _ := main.literal(values["environmentName"]); got != env {
				t.Errorf("environmentName = %s in %s", values["environmentName"], filepath.Base(f))
			}
		})
	}
}

// TestInfraFunctionApp: a Linux Flex Consumption custom-handler app with a
// system-assigned identity, deployed from its container by that identity,
// with the settings the binary needs on a read-only package.
func TestInfraFunctionApp(t *testing.T) {
	t.Parallel()
	fa := readBicep(t, filepath.Join(infraDir, "modules", "functionapp.bicep"))
	site := `(?m)^resource \w+ 'Microsoft\.Web/sites@`
	tests := []struct{ block, key, want string }{
		{`(?m)^resource \w+ 'Microsoft\.Web/serverfarms@(?s).*?sku:`, "tier", "FlexConsumption"},
		{`(?m)^resource \w+ 'Microsoft\.Web/serverfarms@(?s).*?sku:`, "name", "FC1"},
		{`(?m)^resource \w+ 'Microsoft\.Web/serverfarms@(?s).*?properties:`, "reserved", "true"},
		{site, "kind", "functionapp,linux"},
		{site + `(?s).*?identity:`, "type", "SystemAssigned"},
		{site + `(?s).*?properties:`, "httpsOnly", "true"},
		{site + `(?s).*?runtime:`, "name", "custom"},
		{site + `(?s).*?deployment:(?s).*?storage:`, "type", "blobContainer"},
		{site + `(?s).*?deployment:(?s).*?authentication:`, "type", "SystemAssignedIdentity"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.want, func(t *testing.T) {
			if got, _ := fa.literal(fa.entries(t, tt.block)[tt.key]); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
	scale := fa.entries(t, site+`(?s).*?scaleAndConcurrency:`)
	for _, key := range []string{"instanceMemoryMB", "maximumInstanceCount"} {
		if scale[key] != key {
			t.Errorf("scaleAndConcurrency.%s = %q, want the parameter", key, scale[key])
		}
	}

	in := loadInfra(t)
	if got := in.setting(t, "DATA_DIR"); !strings.HasPrefix(got, "/tmp/") {
		t.Errorf("DATA_DIR = %q: the package is mounted read-only, and the binary opens its SQLite file there", got)
	}
	if got := in.setting(t, "QUEUE_BACKEND"); got != "servicebus" {
		t.Errorf("QUEUE_BACKEND = %q", got)
	}
	if got := in.setting(t, "AUTH_MODE"); got != "jwks" {
		t.Errorf("AUTH_MODE = %q: config refuses dev tokens on Azure", got)
	}
	for _, name := range []string{"PUBLIC_URL", "SERVICEBUS_NAMESPACE", "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE"} {
		if strings.TrimSpace(in.settings[name]) == "" || in.settings[name] == "''" {
			t.Errorf("%s must be set on Azure", name)
		}
	}
	if host := readHostJSON(t, "../host.json"); !strings.HasPrefix(host.ExtensionBundle.Version, "[4.") {
		t.Errorf("host.json extension bundle %q: Flex Consumption needs [4.0.0, 5.0.0) or later", host.ExtensionBundle.Version)
	}
}

// TestInfraBicepCompiles builds the templates where a Bicep CLI is installed
// (`az bicep install`, or the standalone binary); elsewhere they are checked
// as text only.
func TestInfraBicepCompiles(t *testing.T) {
	t.Parallel()
	bicep, err := exec.LookPath("bicep")
	if err != nil {
		t.Skip("no bicep on PATH: the templates are checked as text only (no Bicep compiler installs offline: npm's bicep is another tool, bicep-node downloads the CLI from GitHub)")
	}
	targets := [][]string{{"build", filepath.Join(infraDir, "main.bicep"), "--stdout"}}
	for _, f := range paramFiles(t) {
		targets = append(targets, []string{"build-params", f, "--stdout"})
	}
	for _, args := range targets {
		t.Run(filepath.Base(args[1]), func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), bicep, args...).CombinedOutput()
			if err != nil {
				t.Errorf("bicep %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}
