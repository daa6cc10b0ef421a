// Package lambdahost runs the suite's functions on AWS Lambda: one handler per
// process receives every event the Lambda runtime delivers, recognises its
// shape and makes the typed call of package trigger. It has no side effects of
// its own besides logging.
//
// Three event sources are understood (aws-lambda-go's events types):
//
//   - API Gateway HTTP API, payload format 2.0 (and Lambda function URLs,
//     which use the same shape): the request becomes an *http.Request routed
//     to an HTTP function by its function.json route, exactly as the
//     standalone host routes; the response becomes the 2.0 response.
//   - SQS: each record goes to the queue function whose function.json queue
//     name equals the record's queue; failures are reported per record as a
//     partial batch response.
//   - EventBridge scheduled events ("Scheduled Event" from "aws.events"): the
//     rule name picks the timer function.
//
// Failure policy, mirroring package azfunc:
//
//   - HTTP: the function's status, whatever it is, goes to the caller. A
//     panic or a response that cannot be returned becomes a 500.
//   - Queue: nil or a *trigger.Rejection completes the record. A handler
//     cannot dead-letter a single SQS message, so a rejection is logged with
//     its reason and acknowledged, the same stance as on Azure. Any other
//     error, a panic or a record we cannot decode is a batch item failure:
//     SQS redelivers that message and, after the queue's maxReceiveCount,
//     moves it to the dead-letter queue. This needs ReportBatchItemFailures
//     on the event source mapping; without it a partial failure is lost.
//   - Timer: an error is returned as the invocation error, so Lambda retries
//     the asynchronous invocation (twice by default).
//
// Payload contents never reach an error or a log line: bodies, paths, query
// strings, headers and message attributes can hold personal data.
package lambdahost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// DefaultMaxBodyBytes bounds an HTTP request body and an HTTP response body.
// Lambda itself refuses a synchronous request or response payload above 6 MB,
// so nothing larger can arrive or leave in any case.
const DefaultMaxBodyBytes = 6 << 20

// runtimeAPIVariable is set by the Lambda runtime in every execution
// environment; aws-lambda-go refuses to start without it.
const runtimeAPIVariable = "AWS_LAMBDA_RUNTIME_API"

var (
	// errBadEvent marks an event or record we cannot decode.
	errBadEvent = errors.New("malformed lambda event")
	// errPanic marks a function that panicked.
	errPanic = errors.New("function panicked")
)

// Host dispatches Lambda events to the suite's functions. It is safe for
// concurrent use, though Lambda sends one event at a time to a process.
type Host struct {
	logger     *slog.Logger
	maxBody    int64
	now        func() time.Time
	onShutdown []func()

	http   []funcjson.Spec  // HTTP functions, for routing
	byName map[string]entry // lower-case function name
	queues map[string]entry // queue name (exact, as SQS names are) → queue function
	timers []entry          // timer functions
}

type entry struct {
	spec funcjson.Spec
	fn   trigger.Function
}

// Option configures a Host.
type Option func(*Host)

// WithMaxBodyBytes bounds HTTP request and response bodies
// (DefaultMaxBodyBytes when n <= 0).
func WithMaxBodyBytes(n int64) Option {
	return func(h *Host) {
		if n > 0 {
			h.maxBody = n
		}
	}
}

// WithClock sets the clock that decides whether a scheduled event is past due
// (time.Now by default).
func WithClock(now func() time.Time) Option {
	return func(h *Host) {
		if now != nil {
			h.now = now
		}
	}
}

// WithShutdown adds a function that Start runs when Lambda sends SIGTERM
// before it shuts the execution environment down (about 500 ms before
// SIGKILL, between invocations).
func WithShutdown(f func()) Option {
	return func(h *Host) {
		if f != nil {
			h.onShutdown = append(h.onShutdown, f)
		}
	}
}

// New pairs every function with the spec of the same name (funcjson.Pair) and
// returns the host. It fails if a function has no spec or a spec no function,
// if names repeat, if a function's handler does not match its trigger kind, or
// if two queue functions read the same queue. A nil logger discards logs.
func New(funcs []trigger.Function, specs []funcjson.Spec, logger *slog.Logger, opts ...Option) (*Host, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Host{logger: logger, maxBody: DefaultMaxBodyBytes, now: time.Now,
		byName: map[string]entry{}, queues: map[string]entry{}}
	for _, o := range opts {
		o(h)
	}
	paired, err := funcjson.Pair(funcs, specs)
	if err != nil {
		return nil, fmt.Errorf("new lambda host: %w", err)
	}
	for _, p := range paired {
		e := entry{spec: p.Spec, fn: p.Function}
		h.byName[strings.ToLower(p.Spec.Name)] = e
		switch p.Spec.Kind {
		case funcjson.KindHTTP:
			h.http = append(h.http, p.Spec)
		case funcjson.KindQueue:
			if other, dup := h.queues[p.Spec.Queue]; dup {
				return nil, fmt.Errorf("new lambda host: functions %s and %s both read queue %s", other.spec.Name, p.Spec.Name, p.Spec.Queue)
			}
			h.queues[p.Spec.Queue] = e
		case funcjson.KindTimer:
			h.timers = append(h.timers, e)
		default:
			// No Lambda event source feeds it (a change-feed trigger, say):
			// as on the standalone host, it stays idle.
			logger.Warn("function has no lambda event source; it will not run", "function", p.Spec.Name, "trigger", string(p.Spec.Kind))
		}
	}
	return h, nil
}

// Detected reports whether the process runs in a Lambda execution
// environment: AWS_LAMBDA_RUNTIME_API is set. lookup reads the environment
// (os.LookupEnv).
func Detected(lookup func(string) (string, bool)) bool {
	v, ok := lookup(runtimeAPIVariable)
	return ok && strings.TrimSpace(v) != ""
}

// Start hands Invoke to the Lambda runtime and serves events until the
// process ends; it does not return. Every invocation's context derives from
// ctx. Outside Lambda (see Detected) aws-lambda-go exits the process.
func (h *Host) Start(ctx context.Context) {
	h.logger.Info("lambda host starting", "functions", len(h.byName))
	lambda.StartWithOptions(h.Invoke,
		lambda.WithContext(ctx),
		lambda.WithEnableSIGTERM(func() {
			h.logger.Info("lambda execution environment shutting down")
			for _, f := range h.onShutdown {
				f()
			}
		}))
}

// Invoke handles one Lambda event: an HTTP API request (it returns
// events.APIGatewayV2HTTPResponse), an SQS batch (events.SQSEventResponse) or
// a scheduled event (nil). An event of any other shape is an error naming the
// fields that decided, never the payload.
func (h *Host) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	kind, err := sniff(raw)
	if err != nil {
		h.logger.Error("unrecognized lambda event", "error", err)
		return nil, err
	}
	var res any
	switch kind {
	case kindHTTP:
		res, err = h.serveHTTP(ctx, raw)
	case kindSQS:
		res, err = h.serveSQS(ctx, raw)
	default:
		err = h.serveTimer(ctx, raw)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

type eventKind int

const (
	kindHTTP eventKind = iota + 1
	kindSQS
	kindTimer
)

// sniff tells the event source from the fields that identify it: the first
// record's eventSource, the payload version with requestContext.http, or the
// EventBridge source and detail-type.
func sniff(raw json.RawMessage) (eventKind, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return 0, fmt.Errorf("%w: the event is not a JSON object", errBadEvent)
	}
	var seen []string
	if recs, ok := top["Records"]; ok {
		var records []map[string]json.RawMessage
		if json.Unmarshal(recs, &records) != nil || len(records) == 0 {
			seen = append(seen, "Records is not a non-empty array")
		} else if src := str(records[0]["eventSource"]); src == "aws:sqs" {
			return kindSQS, nil
		} else {
			if src == "" {
				src = str(records[0]["EventSource"]) // SNS spells it so
			}
			seen = append(seen, "Records[0].eventSource "+quote(src))
		}
	}
	if v, ok := top["version"]; ok {
		var rc map[string]json.RawMessage
		_ = json.Unmarshal(top["requestContext"], &rc)
		_, hasHTTP := rc["http"]
		if str(v) == "2.0" && hasHTTP {
			return kindHTTP, nil
		}
		seen = append(seen, fmt.Sprintf("version %s (requestContext.http present: %t)", quote(str(v)), hasHTTP))
	}
	if s, ok := top["source"]; ok {
		dt := str(top["detail-type"])
		if str(s) == "aws.events" && dt == "Scheduled Event" {
			return kindTimer, nil
		}
		seen = append(seen, fmt.Sprintf("source %s with detail-type %s", quote(str(s)), quote(dt)))
	}
	if len(seen) == 0 {
		seen = append(seen, "none of Records, version or source")
	}
	return 0, fmt.Errorf("%w: not an SQS, HTTP API 2.0 or scheduled event: saw %s", errBadEvent, strings.Join(seen, "; "))
}

// str returns raw as a string if it is a JSON string, else "".
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// quote quotes an identifying field for an error message, cut short: these
// are AWS service names, not payload, but a hand-made test event could put
// anything there.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// jsonError describes a decoding error without the payload bytes a
// json.SyntaxError or an unmarshal error can quote.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("%w: invalid JSON at offset %d", errBadEvent, syn.Offset)
	case errors.As(err, &typ):
		// Value is "string", "object", … but "number 42" for a number: keep the kind only.
		kind, _, _ := strings.Cut(typ.Value, " ")
		return fmt.Errorf("%w: field %s: a JSON %s does not decode into %s", errBadEvent, typ.Field, kind, typ.Type)
	default:
		return fmt.Errorf("%w: undecodable JSON", errBadEvent)
	}
}

// safeCall runs a queue or timer function and turns a panic into an error.
func safeCall(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanic, p, debug.Stack())
		}
	}()
	return f()
}

// logError logs a failed invocation at the right level: panics and our own
// decoding faults are errors, a function's transient error a warning.
func logError(log *slog.Logger, msg string, err error) {
	if errors.Is(err, errBadEvent) || errors.Is(err, errPanic) {
		log.Error(msg, "error", err)
		return
	}
	log.Warn(msg, "error", err)
}
