// Package funcjson reads the function.json files that drive both the Azure
// Functions host and the standalone host, so that routes, queue names and
// NCRONTAB schedules have one source of truth. It has no side effects beyond
// reading the given file system.
//
// Each function is a folder of the file system holding a function.json; the
// folder name is the function name (the Functions host POSTs payload-mode
// invocations to /<folder>). Only the bindings this suite uses are understood:
// an httpTrigger with its http output, a timerTrigger, a serviceBusTrigger
// with dataType "binary", and a cosmosDBTrigger (extension 4.x names). Anything else is refused at load time rather than
// silently ignored, because a binding the adapters do not implement would be a
// function that never runs or an output that is never sent.
package funcjson

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the trigger kind of a function.
type Kind string

// The trigger kinds this suite supports.
const (
	KindHTTP  Kind = "http"  // httpTrigger + http output
	KindQueue Kind = "queue" // serviceBusTrigger (single message, dataType binary)
	KindTimer Kind = "timer" // timerTrigger (6-field NCRONTAB, UTC)
	// KindDocuments is a cosmosDBTrigger: a batch of changed documents from a
	// container's change feed. Only the Functions host runs it; the standalone
	// host has no change feed (its store is SQLite) and leaves it idle.
	KindDocuments Kind = "documents"
)

// DefaultRoutePrefix is the Functions host default for host.json
// extensions.http.routePrefix.
const DefaultRoutePrefix = "api"

// Errors returned (wrapped) by Load.
var (
	// ErrUnresolvedSetting: a %NAME% placeholder names an app setting that is not set.
	ErrUnresolvedSetting = errors.New("unresolved app setting")
	// ErrInvalid: a function.json is malformed or uses an unsupported binding.
	ErrInvalid = errors.New("invalid function.json")
)

// Spec is the typed view of one function.json, after %SETTING% expansion.
type Spec struct {
	Name string // folder name = function name
	Kind Kind

	// HTTP only.
	Route   string   // the route template, e.g. "portal/{*path}"; the function name when omitted
	Methods []string // upper case, e.g. "GET"; empty means every method

	// Queue only.
	Queue      string // Service Bus queue name (the built-in queue name in standalone)
	Connection string // app setting (prefix) naming the Service Bus connection
	DataType   string // lower case; "binary" for queues

	// Timer only.
	Schedule string // 6-field NCRONTAB, {second} {minute} {hour} {day} {month} {day-of-week}

	// Documents only (Connection is shared with queues).
	Database       string // Cosmos DB database
	Container      string // the monitored container
	LeaseContainer string // the change feed's lease container ("leases" when omitted)

	TriggerName string // the trigger binding name: the key in the payload's Data
	OutputName  string // the http output binding name ("res" or "$return"); HTTP only

	// hostPrefix is "/api"-style: "" means "not set" (DefaultRoutePrefix), "/"
	// means an empty host route prefix.
	hostPrefix string
}

// RoutePrefix returns the URL path an HTTP function serves, under the host
// route prefix. A route made only of literal segments is an exact path
// ("openapi.json" → "/api/openapi.json"). A route with a parameter keeps its
// literal leading segments and ends in "/" ("portal/{*path}" → "/api/portal/"),
// and then matches that path and everything below it. It returns "" for a
// function that is not HTTP. A Spec not made by Load uses the "api" prefix.
func (s Spec) RoutePrefix() string {
	if s.Kind != KindHTTP {
		return ""
	}
	base := s.hostPrefix
	if base == "" {
		base = "/" + DefaultRoutePrefix
	}
	base = strings.TrimSuffix(base, "/")
	var lit []string
	param := false
	for seg := range strings.SplitSeq(strings.Trim(s.Route, "/"), "/") {
		if strings.Contains(seg, "{") {
			param = true
			break
		}
		if seg != "" {
			lit = append(lit, seg)
		}
	}
	p := base + "/" + strings.Join(lit, "/")
	if param && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// MatchesPath reports whether the URL path belongs to this HTTP function: equal
// to an exact RoutePrefix, or at or below a prefix that ends in "/" (the bare
// prefix without its trailing slash matches too, as an empty catch-all does on
// the Functions host).
func (s Spec) MatchesPath(path string) bool {
	p := s.RoutePrefix()
	switch {
	case p == "":
		return false
	case !strings.HasSuffix(p, "/"):
		return path == p
	default:
		return strings.HasPrefix(path, p) || path == strings.TrimSuffix(p, "/")
	}
}

// AllowsMethod reports whether an HTTP function accepts the request method.
func (s Spec) AllowsMethod(method string) bool {
	if len(s.Methods) == 0 {
		return true
	}
	for _, m := range s.Methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

// MatchRoute returns the HTTP function serving the URL path: among those whose
// MatchesPath is true, the one with the longest RoutePrefix.
func MatchRoute(specs []Spec, path string) (Spec, bool) {
	var best Spec
	found := false
	for _, s := range specs {
		if s.Kind != KindHTTP || !s.MatchesPath(path) {
			continue
		}
		if !found || len(s.RoutePrefix()) > len(best.RoutePrefix()) {
			best, found = s, true
		}
	}
	return best, found
}

// Find returns the spec named name (case-insensitive, as function names are on
// the Functions host).
func Find(specs []Spec, name string) (Spec, bool) {
	for _, s := range specs {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return Spec{}, false
}

func invalid(function, format string, args ...any) error {
	return fmt.Errorf("function %s: %s: %w", function, fmt.Sprintf(format, args...), ErrInvalid)
}
