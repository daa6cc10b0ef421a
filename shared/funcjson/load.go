package funcjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Option changes how Load reads the function folders.
type Option func(*options)

type options struct {
	routePrefix string
}

// WithRoutePrefix sets the host route prefix (host.json
// extensions.http.routePrefix). The default is "api"; "" serves HTTP routes at
// the root.
func WithRoutePrefix(prefix string) Option {
	return func(o *options) { o.routePrefix = prefix }
}

// Load reads every <folder>/function.json at the root of fsys, expands
// %SETTING% placeholders in string values through lookup, and returns one Spec
// per function, sorted by name. Folders without a function.json are skipped
// (the functions folder also holds Go packages). Every problem in every function
// is reported, joined: ErrUnresolvedSetting naming the setting and the function,
// or ErrInvalid for a malformed or unsupported function.json.
func Load(fsys fs.FS, lookup func(name string) (string, bool), opts ...Option) ([]Spec, error) {
	o := options{routePrefix: DefaultRoutePrefix}
	for _, opt := range opts {
		opt(&o)
	}
	hostPrefix := "/" + strings.Trim(o.routePrefix, "/")

	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("load function.json files: %w", err)
	}
	var specs []Spec
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(e.Name(), "function.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("function %s: read function.json: %w", e.Name(), err))
			continue
		}
		s, err := parse(e.Name(), data, lookup)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.hostPrefix = hostPrefix
		specs = append(specs, s)
	}
	errs = append(errs, checkUnique(specs)...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("load function.json files: %w", errors.Join(errs...))
	}
	return specs, nil
}

// checkUnique refuses two functions on one queue (they would compete for its
// messages) and two HTTP functions on one route (one would never be reached).
func checkUnique(specs []Spec) []error {
	var errs []error
	queues := map[string]string{}
	routes := map[string]string{}
	for _, s := range specs {
		var seen map[string]string
		var key string
		switch s.Kind {
		case KindQueue:
			seen, key = queues, s.Queue
		case KindHTTP:
			seen, key = routes, s.RoutePrefix()
		default:
			continue
		}
		if other, dup := seen[key]; dup {
			errs = append(errs, invalid(s.Name, "%s %q is also used by function %s", s.Kind, key, other))
			continue
		}
		seen[key] = s.Name
	}
	return errs
}

// binding is one entry of "bindings". encoding/json matches keys
// case-insensitively, as the Functions host does.
type binding struct {
	Type               string
	Direction          string
	Name               string
	Route              *string
	Methods            []string
	QueueName          string
	TopicName          string
	SubscriptionName   string
	Connection         string
	DataType           string
	Cardinality        string
	IsSessionsEnabled  json.RawMessage
	Schedule           string
	DatabaseName       string
	ContainerName      string
	LeaseContainerName string
	// The v3 names, refused: bundle 4.x ignores them.
	CollectionName          string
	ConnectionStringSetting string
}

// decode reads the bindings of one function.json, %SETTING% placeholders
// expanded. A file without a '%' has none and is decoded once; the others are
// decoded, expanded and decoded again (a value is expanded after JSON
// unescaping, as the host does).
func decode(name string, data []byte, lookup func(string) (string, bool)) (functionJSON, error) {
	var fj functionJSON
	if !bytes.ContainsRune(data, '%') {
		if err := json.Unmarshal(data, &fj); err != nil {
			return fj, invalid(name, "decode: %v", err)
		}
		return fj, nil
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fj, invalid(name, "decode: %v", err)
	}
	doc, err := expand(name, doc, lookup)
	if err != nil {
		return fj, err
	}
	expanded, err := json.Marshal(doc)
	if err != nil {
		return fj, fmt.Errorf("function %s: re-encode function.json: %w", name, err)
	}
	if err := json.Unmarshal(expanded, &fj); err != nil {
		return fj, invalid(name, "decode bindings: %v", err)
	}
	return fj, nil
}

type functionJSON struct{ Bindings []binding }

// parse turns one function.json into a Spec.
func parse(name string, data []byte, lookup func(string) (string, bool)) (Spec, error) {
	fj, err := decode(name, data, lookup)
	if err != nil {
		return Spec{}, err
	}

	var trig, out *binding
	for i := range fj.Bindings {
		b := &fj.Bindings[i]
		isTrigger := strings.HasSuffix(strings.ToLower(b.Type), "trigger")
		switch {
		case isTrigger && trig != nil:
			return Spec{}, invalid(name, "two triggers (%s and %s); a function has exactly one", trig.Type, b.Type)
		case isTrigger:
			trig = b
		case strings.EqualFold(b.Type, "http") && out == nil:
			out = b
		case strings.EqualFold(b.Type, "http"):
			return Spec{}, invalid(name, "two http outputs")
		default:
			return Spec{}, invalid(name, "binding type %q is not supported (publish through the queue port instead)", b.Type)
		}
	}
	if trig == nil {
		return Spec{}, invalid(name, "no trigger binding")
	}
	if !strings.EqualFold(trig.Direction, "in") {
		return Spec{}, invalid(name, "trigger %s has direction %q, want \"in\"", trig.Type, trig.Direction)
	}
	if trig.Name == "" {
		return Spec{}, invalid(name, "trigger %s has no name", trig.Type)
	}
	if out != nil && !strings.EqualFold(trig.Type, "httpTrigger") {
		return Spec{}, invalid(name, "http output without an httpTrigger")
	}

	s := Spec{Name: name, TriggerName: trig.Name, DataType: strings.ToLower(trig.DataType)}
	switch strings.ToLower(trig.Type) {
	case "httptrigger":
		return httpSpec(s, trig, out)
	case "timertrigger":
		return timerSpec(s, trig)
	case "servicebustrigger":
		return queueSpec(s, trig)
	case "cosmosdbtrigger":
		return documentsSpec(s, trig)
	default:
		return Spec{}, invalid(name, "trigger type %q is not supported", trig.Type)
	}
}

func httpSpec(s Spec, trig, out *binding) (Spec, error) {
	if out == nil {
		return Spec{}, invalid(s.Name, "httpTrigger without an http output binding")
	}
	if !strings.EqualFold(out.Direction, "out") || out.Name == "" {
		return Spec{}, invalid(s.Name, "http output must have direction \"out\" and a name")
	}
	s.Kind = KindHTTP
	s.OutputName = out.Name
	s.Route = s.Name
	if trig.Route != nil && strings.Trim(*trig.Route, "/") != "" {
		s.Route = strings.Trim(*trig.Route, "/")
	}
	for _, m := range trig.Methods {
		if m == "" || strings.IndexFunc(m, func(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') }) >= 0 {
			return Spec{}, invalid(s.Name, "method %q is not a method name", m)
		}
		s.Methods = append(s.Methods, strings.ToUpper(m))
	}
	return s, nil
}

func timerSpec(s Spec, trig *binding) (Spec, error) {
	if strings.TrimSpace(trig.Schedule) == "" {
		return Spec{}, invalid(s.Name, "timerTrigger without a schedule")
	}
	s.Kind = KindTimer
	s.Schedule = strings.TrimSpace(trig.Schedule)
	return s, nil
}

func queueSpec(s Spec, trig *binding) (Spec, error) {
	switch {
	case trig.QueueName == "":
		return Spec{}, invalid(s.Name, "serviceBusTrigger without a queueName (topics are not supported)")
	case trig.TopicName != "" || trig.SubscriptionName != "":
		return Spec{}, invalid(s.Name, "serviceBusTrigger on a topic is not supported")
	case s.DataType != "binary":
		// Without it the body arrives as a JSON string inside a JSON string,
		// which is ambiguous for a body that is itself a JSON string literal.
		return Spec{}, invalid(s.Name, "serviceBusTrigger needs \"dataType\": \"binary\", got %q", trig.DataType)
	case trig.Cardinality != "" && !strings.EqualFold(trig.Cardinality, "one"):
		return Spec{}, invalid(s.Name, "serviceBusTrigger cardinality %q is not supported", trig.Cardinality)
	case len(trig.IsSessionsEnabled) > 0 && !isFalse(trig.IsSessionsEnabled):
		return Spec{}, invalid(s.Name, "serviceBusTrigger sessions are not supported")
	}
	s.Kind = KindQueue
	s.Queue = trig.QueueName
	s.Connection = trig.Connection
	return s, nil
}

func documentsSpec(s Spec, trig *binding) (Spec, error) {
	switch {
	case trig.CollectionName != "" || trig.ConnectionStringSetting != "":
		return Spec{}, invalid(s.Name, "cosmosDBTrigger uses extension 3.x names (collectionName, connectionStringSetting); bundle 4.x reads containerName and connection")
	case trig.DatabaseName == "" || trig.ContainerName == "":
		return Spec{}, invalid(s.Name, "cosmosDBTrigger needs databaseName and containerName")
	case trig.Connection == "":
		return Spec{}, invalid(s.Name, "cosmosDBTrigger needs a connection")
	}
	s.Kind = KindDocuments
	s.Connection = trig.Connection
	s.Database, s.Container = trig.DatabaseName, trig.ContainerName
	s.LeaseContainer = trig.LeaseContainerName
	if s.LeaseContainer == "" {
		s.LeaseContainer = "leases"
	}
	return s, nil
}

// isFalse reports whether raw is false, "false" or null.
func isFalse(raw json.RawMessage) bool {
	switch strings.ToLower(strings.Trim(string(raw), `" `)) {
	case "false", "null", "":
		return true
	}
	return false
}

// settingRE matches a %NAME% placeholder; NAME has no spaces, so "50% off 20%"
// is left alone.
var settingRE = regexp.MustCompile(`%([^%\s]+)%`)

// expand replaces %NAME% placeholders in every string value of v.
func expand(function string, v any, lookup func(string) (string, bool)) (any, error) {
	var errs []error
	var walk func(where string, v any) any
	walk = func(where string, v any) any {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				x[k] = walk(k, x[k])
			}
			return x
		case []any:
			for i, e := range x {
				x[i] = walk(where, e)
			}
			return x
		case string:
			return settingRE.ReplaceAllStringFunc(x, func(m string) string {
				key := m[1 : len(m)-1]
				val, ok := lookup(key)
				if !ok {
					errs = append(errs, fmt.Errorf("function %s: app setting %s (in %q) is not set: %w",
						function, key, where, ErrUnresolvedSetting))
					return m
				}
				return val
			})
		default:
			return v
		}
	}
	v = walk("", v)
	return v, errors.Join(errs...)
}
