package lambdahost

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/trigger"
)

func TestInvokeRefusesUnknownEvents(t *testing.T) {
	t.Parallel()
	const prefix = "malformed lambda event: not an SQS, HTTP API 2.0 or scheduled event: saw "
	tests := []struct {
		name  string
		event string
		want  string
	}{
		{name: "S3 notification",
			event: `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","s3":{"object":{"key":"exports/alice@example.com.zip"}}}]}`,
			want:  prefix + `Records[0].eventSource "aws:s3"`},
		{name: "SNS notification",
			event: `{"Records":[{"EventVersion":"1.0","EventSource":"aws:sns","Sns":{"Message":"alice@example.com"}}]}`,
			want:  prefix + `Records[0].eventSource "aws:sns"`},
		{name: "REST API (payload 1.0)",
			event: `{"version":"1.0","resource":"/{proxy+}","path":"/api/portal/alice@example.com","httpMethod":"GET","requestContext":{"stage":"prod"}}`,
			want:  prefix + `version "1.0" (requestContext.http present: false)`},
		{name: "EventBridge event that is not a schedule",
			event: `{"version":"0","id":"e1","detail-type":"Object Created","source":"aws.s3","detail":{"object":{"key":"alice@example.com"}}}`,
			want:  prefix + `version "0" (requestContext.http present: false); source "aws.s3" with detail-type "Object Created"`},
		{name: "empty Records", event: `{"Records":[]}`, want: prefix + "Records is not a non-empty array"},
		{name: "a direct test invocation", event: `{"email":"alice@example.com"}`, want: prefix + "none of Records, version or source"},
		{name: "a long source is cut short",
			event: `{"source":"` + strings.Repeat("s", 60) + `","detail-type":"x"}`,
			want:  prefix + `source "` + strings.Repeat("s", 40) + `…" with detail-type "x"`},
		{name: "an array", event: `[{"eventSource":"aws:sqs"}]`, want: "malformed lambda event: the event is not a JSON object"},
		{name: "null", event: `null`, want: "malformed lambda event: the event is not a JSON object"},
		{name: "SQS shape with a field of the wrong type",
			event: `{"Records":[{"eventSource":"aws:sqs","messageId":4242}]}`,
			want:  "decode sqs event: malformed lambda event: field Records.messageId: a JSON number does not decode into string"},
		{name: "scheduled event with a bad time",
			event: `{"source":"aws.events","detail-type":"Scheduled Event","time":"alice@example.com"}`,
			want:  "decode scheduled event: malformed lambda event: undecodable JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, logs := newHost(t, fakes{}, nil)
			out, err := h.Invoke(context.Background(), []byte(tt.event))
			if !errors.Is(err, errBadEvent) {
				t.Fatalf("Invoke error = %v, want errBadEvent", err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if out != nil {
				t.Errorf("Invoke returned %#v, want nil", out)
			}
			for _, s := range []string{"alice", "4242"} {
				if strings.Contains(err.Error(), s) || strings.Contains(logs.String(), s) {
					t.Errorf("payload %q reached the error or the logs:\n%s", s, logs)
				}
			}
		})
	}
}

func TestNewRefusesMismatches(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, trigger.Message) error { return nil }
	tests := []struct {
		name string
		edit func(fs []trigger.Function) []trigger.Function
		spec func(i int, name string, queue *string)
		want string
	}{{
		name: "a function.json without a handler",
		edit: func(fs []trigger.Function) []trigger.Function { return fs[:len(fs)-1] },
		want: "new lambda host: function deadlinewatch has a function.json but no registered handler",
	}, {
		name: "a handler of the wrong kind",
		edit: func(fs []trigger.Function) []trigger.Function {
			for i := range fs {
				if fs[i].Name == "notify" {
					fs[i] = trigger.Function{Name: "notify", HTTP: http.NotFoundHandler()}
				}
			}
			return fs
		},
		want: "new lambda host: function notify: its function.json has a queue trigger; register exactly that handler",
	}, {
		name: "a handler without a function.json",
		edit: func(fs []trigger.Function) []trigger.Function {
			return append(fs, trigger.Function{Name: "exports", Queue: noop})
		},
		want: "new lambda host: function exports has no function.json",
	}, {
		name: "two functions on one queue",
		spec: func(_ int, name string, queue *string) {
			if name == "tasks" {
				*queue = "notices"
			}
		},
		want: "new lambda host: functions notify and tasks both read queue notices",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			funcs := fakes{}.functions()
			if tt.edit != nil {
				funcs = tt.edit(funcs)
			}
			ss := specs(t, nil)
			for i := range ss {
				if tt.spec != nil {
					tt.spec(i, ss[i].Name, &ss[i].Queue)
				}
			}
			h, err := New(funcs, ss, nil)
			if err == nil {
				t.Fatalf("New = %v, want an error", h)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{name: "in Lambda", env: map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, want: true},
		{name: "unset", env: map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "41234"}, want: false},
		{name: "blank", env: map[string]string{"AWS_LAMBDA_RUNTIME_API": " "}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Detected(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got != tt.want {
				t.Errorf("Detected = %t, want %t", got, tt.want)
			}
		})
	}
}

// TestRuntimeAdapter runs Invoke through aws-lambda-go's own handler adapter,
// the one Start uses, and checks the JSON the runtime would send back.
func TestRuntimeAdapter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		event   []byte
		want    string
		wantErr bool
	}{{
		name:  "HTTP API response",
		event: edited(t, "http_get.json", func(ev *map[string]any) { (*ev)["rawPath"] = "/api/none" }),
		want: `{"statusCode":404,"headers":{"Cache-Control":"no-store","Content-Type":"application/problem+json"},"multiValueHeaders":null,` +
			`"body":"{\"type\":\"urn:privops:problem:not-found\",\"title\":\"Not Found\",\"status\":404,\"code\":\"not-found\",\"detail\":\"no such endpoint\"}\n","cookies":null}`,
	}, {
		name:  "SQS partial batch response",
		event: event(t, "sqs_standard.json"),
		want:  `{"batchItemFailures":[{"itemIdentifier":"` + std3 + `"}]}`,
	}, {
		name:  "scheduled event",
		event: event(t, "eventbridge_scheduled.json"),
		want:  `null`,
	}, {
		name:    "unknown event",
		event:   []byte(`{"hello":"world"}`),
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			notify := func(_ context.Context, m trigger.Message) error {
				if m.ID == std3 {
					return errors.New("transient")
				}
				return nil
			}
			h, _ := newHost(t, fakes{notify: notify}, nil, WithClock(func() time.Time { return scheduled }))
			out, err := lambda.NewHandler(h.Invoke).Invoke(context.Background(), tt.event)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Invoke error = %v, want error %t", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, strings.TrimSpace(string(out))); diff != "" {
				t.Errorf("response JSON (-want +got):\n%s", diff)
			}
		})
	}
}
