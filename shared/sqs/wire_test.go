package sqs_test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqs"
)

// The wire tests run the real SDK against sqsServer, a small stand-in for
// SQS's JSON protocol (AWS JSON 1.0): it checks each request's headers,
// decodes its body strictly, records it and answers as SQS does, with the
// MD5 of each body that the SDK verifies.

const (
	testRegion = "eu-west-1"
	testKeyID  = "AKIDPRIVOPSTEST"
	accountURL = "/000000000000/" // the path of a queue url without its name
)

// wireEntry is a SendMessageBatch entry as it travels.
type wireEntry struct {
	Id                     string
	MessageBody            string
	DelaySeconds           int32                         `json:",omitempty"`
	MessageAttributes      map[string]wireAttributeValue `json:",omitempty"`
	MessageDeduplicationId string                        `json:",omitempty"`
	MessageGroupId         string                        `json:",omitempty"`
}

type wireAttributeValue struct {
	DataType    string
	StringValue string
}

// wireCall is one request as recorded: its target and body, with the server's
// address taken out of the queue url.
type wireCall struct {
	Target    string
	QueueName string      `json:",omitempty"` // GetQueueUrl
	QueueUrl  string      `json:",omitempty"` // SendMessageBatch
	Entries   []wireEntry `json:",omitempty"`
}

// wireError is an error answer: HTTP status, the __type's shape name and the
// x-amzn-query-error code and fault.
type wireError struct {
	status     int
	shape      string
	queryCode  string
	queryFault string // Sender or Receiver
}

// failedEntry is one entry of an answer's Failed list.
type failedEntry struct {
	Id          string
	Code        string
	SenderFault bool
	Message     string
}

type sqsServer struct {
	tb  testing.TB
	srv *httptest.Server
	// fail, if set, answers the call-th request (from 1) with an error.
	fail func(call int) *wireError
	// failEntry, if set, fails an entry of the send-th SendMessageBatch (from 1).
	failEntry func(send int, e wireEntry) *failedEntry

	mu    sync.Mutex
	calls []wireCall
	sends int
}

func newSQSServer(tb testing.TB) *sqsServer {
	tb.Helper()
	s := &sqsServer{tb: tb}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// publisher returns a Publisher whose SDK client talks to s with static
// credentials and one attempt a call (no SDK retries).
func (s *sqsServer) publisher(tb testing.TB) *sqs.Publisher {
	tb.Helper()
	p, err := sqs.New(tb.Context(), sqs.Options{
		Region: testRegion, Endpoint: s.srv.URL, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, "not-a-real-secret", ""),
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return p
}

func (s *sqsServer) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		s.tb.Errorf("%s %s, want POST /", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		s.tb.Errorf("%s: Content-Type %q, want application/x-amz-json-1.0", target, ct)
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+testKeyID+"/") || !strings.Contains(auth, "/"+testRegion+"/sqs/aws4_request") {
		s.tb.Errorf("%s: Authorization %q is not a SigV4 signature for sqs in %s", target, auth, testRegion)
	}

	call := wireCall{Target: target}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&call); err != nil {
		s.tb.Errorf("%s: decode request: %v", target, err)
	}
	call.Target = target
	call.QueueUrl = strings.TrimPrefix(call.QueueUrl, s.srv.URL)

	s.mu.Lock()
	s.calls = append(s.calls, call)
	n := len(s.calls)
	if target == "AmazonSQS.SendMessageBatch" {
		s.sends++
	}
	send := s.sends
	s.mu.Unlock()

	if s.fail != nil {
		if e := s.fail(n); e != nil {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("X-Amzn-Query-Error", e.queryCode+";"+e.queryFault)
			w.WriteHeader(e.status)
			fmt.Fprintf(w, `{"__type":"com.amazonaws.sqs#%s","message":"the fake says no"}`, e.shape)
			return
		}
	}
	var answer any
	switch target {
	case "AmazonSQS.GetQueueUrl":
		answer = map[string]string{"QueueUrl": s.srv.URL + accountURL + call.QueueName}
	case "AmazonSQS.SendMessageBatch":
		type ok struct{ Id, MessageId, MD5OfMessageBody string }
		res := struct {
			Successful []ok
			Failed     []failedEntry
		}{Successful: []ok{}, Failed: []failedEntry{}}
		for _, e := range call.Entries {
			if s.failEntry != nil {
				if f := s.failEntry(send, e); f != nil {
					f.Id = e.Id
					res.Failed = append(res.Failed, *f)
					continue
				}
			}
			sum := md5.Sum([]byte(e.MessageBody))
			res.Successful = append(res.Successful, ok{Id: e.Id, MessageId: fmt.Sprintf("msg-%d-%s", n, e.Id), MD5OfMessageBody: hex.EncodeToString(sum[:])})
		}
		answer = res
	default:
		s.tb.Errorf("unexpected target %q", target)
		http.Error(w, "unknown target", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if err := json.NewEncoder(w).Encode(answer); err != nil {
		s.tb.Errorf("encode answer: %v", err)
	}
}

func (s *sqsServer) recorded() []wireCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func lookup(queue string) wireCall {
	return wireCall{Target: "AmazonSQS.GetQueueUrl", QueueName: queue}
}

func sendTo(queue string, entries ...wireEntry) wireCall {
	return wireCall{Target: "AmazonSQS.SendMessageBatch", QueueUrl: accountURL + queue, Entries: entries}
}

func wireBody(id string) string { return fmt.Sprintf(`{"specversion":"1.0","id":%q}`, id) }

func outMsg(id string) privacy.OutMessage {
	return privacy.OutMessage{ID: id, Body: []byte(wireBody(id))}
}

func TestWireRequests(t *testing.T) {
	t.Parallel()
	s := newSQSServer(t)
	p := s.publisher(t)

	far := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	var msgs []privacy.OutMessage
	var want []wireEntry
	for i := range 25 {
		id := fmt.Sprintf("task-%02d#1", i)
		m, e := outMsg(id), wireEntry{Id: fmt.Sprintf("m%d", i), MessageBody: wireBody(id)}
		switch i {
		case 0:
			m.ContentType, m.Properties = "application/cloudevents+json", map[string]string{"tenant": "demo"}
			e.MessageAttributes = map[string]wireAttributeValue{
				"ContentType": {DataType: "String", StringValue: "application/cloudevents+json"},
				"tenant":      {DataType: "String", StringValue: "demo"},
			}
		case 1:
			m.NotBefore = time.Now().Add(10 * time.Minute)
			e.DelaySeconds = 600
		case 2:
			m.NotBefore = far
			e.DelaySeconds = 900
			e.MessageAttributes = map[string]wireAttributeValue{
				"privops-not-before": {DataType: "String", StringValue: far.Format(time.RFC3339)},
			}
		}
		msgs, want = append(msgs, m), append(want, e)
	}
	if err := p.Publish(t.Context(), "privops-tasks", msgs...); err != nil {
		t.Fatalf("Publish 25: %v", err)
	}
	long := strings.Repeat("r", 130)
	if err := p.Publish(t.Context(), "privops-tasks.fifo", outMsg("task-a#1"), outMsg(long)); err != nil {
		t.Fatalf("Publish to FIFO: %v", err)
	}
	if err := p.Publish(t.Context(), "privops-tasks", outMsg("task-z#1")); err != nil {
		t.Fatalf("Publish again: %v", err)
	}

	hashed := "sha256:d020d9375eedc9ac8bc6e29db3c0db95a12335b7a0e96fa8d9a9cc5023f5491b" // sha256sum of the 130 r's
	got := s.recorded()
	wantCalls := []wireCall{
		lookup("privops-tasks"),
		sendTo("privops-tasks", want[:10]...),
		sendTo("privops-tasks", want[10:20]...),
		sendTo("privops-tasks", want[20:]...),
		lookup("privops-tasks.fifo"),
		sendTo("privops-tasks.fifo",
			wireEntry{Id: "m0", MessageBody: wireBody("task-a#1"), MessageDeduplicationId: "task-a#1", MessageGroupId: "task-a#1"},
			wireEntry{Id: "m1", MessageBody: wireBody(long), MessageDeduplicationId: hashed, MessageGroupId: hashed},
		),
		sendTo("privops-tasks", wireEntry{Id: "m0", MessageBody: wireBody("task-z#1")}),
	}
	if diff := cmp.Diff(wantCalls, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestWireResendsFailedEntries(t *testing.T) {
	t.Parallel()
	s := newSQSServer(t)
	s.failEntry = func(send int, e wireEntry) *failedEntry {
		if send == 1 && (e.Id == "m1" || e.Id == "m2") {
			return &failedEntry{Code: "InternalError", SenderFault: false, Message: "try again"}
		}
		return nil
	}
	p := s.publisher(t)
	if err := p.Publish(t.Context(), "privops-tasks", outMsg("a"), outMsg("b"), outMsg("c")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	want := []wireCall{
		lookup("privops-tasks"),
		sendTo("privops-tasks", wireEntry{Id: "m0", MessageBody: wireBody("a")},
			wireEntry{Id: "m1", MessageBody: wireBody("b")}, wireEntry{Id: "m2", MessageBody: wireBody("c")}),
		sendTo("privops-tasks", wireEntry{Id: "m1", MessageBody: wireBody("b")}, wireEntry{Id: "m2", MessageBody: wireBody("c")}),
	}
	if diff := cmp.Diff(want, s.recorded()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestWireErrors(t *testing.T) {
	t.Parallel()
	const secret = "jane.doe@example.com"
	tests := []struct {
		name            string
		fail            func(call int) *wireError
		failEntry       func(send int, e wireEntry) *failedEntry
		wantUnavailable bool
		wantAs          func(error) bool // nil: no type to check
		wantText        []string
		wantCalls       int
	}{
		{
			name: "an unknown queue",
			fail: func(int) *wireError {
				return &wireError{400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "Sender"}
			},
			wantAs:    func(err error) bool { var e *types.QueueDoesNotExist; return errors.As(err, &e) },
			wantText:  []string{"resolve queue url", "NonExistentQueue"},
			wantCalls: 1,
		},
		{
			name: "an invalid parameter",
			fail: func(call int) *wireError {
				if call == 2 {
					return &wireError{400, "InvalidParameterValue", "InvalidParameterValue", "Sender"}
				}
				return nil
			},
			wantText:  []string{"batch 1 of 1", "InvalidParameterValue"},
			wantCalls: 2,
		},
		{
			name: "throttled",
			fail: func(call int) *wireError {
				if call == 2 {
					return &wireError{400, "RequestThrottled", "RequestThrottled", "Sender"}
				}
				return nil
			},
			wantUnavailable: true,
			wantAs:          func(err error) bool { var e *types.RequestThrottled; return errors.As(err, &e) },
			wantCalls:       2,
		},
		{
			name: "the service fails",
			fail: func(call int) *wireError {
				if call == 2 {
					return &wireError{500, "InternalError", "InternalError", "Receiver"}
				}
				return nil
			},
			wantUnavailable: true,
			wantText:        []string{"InternalError"},
			wantCalls:       2,
		},
		{
			name: "an entry refused as the sender's fault",
			failEntry: func(int, wireEntry) *failedEntry {
				return &failedEntry{Code: "InvalidParameterValue", SenderFault: true, Message: "Value for parameter MessageGroupId is invalid"}
			},
			wantText:  []string{"refused 1 of 1", "message a: InvalidParameterValue"},
			wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSQSServer(t)
			s.fail, s.failEntry = tt.fail, tt.failEntry
			p := s.publisher(t)
			err := p.Publish(t.Context(), "privops-tasks", privacy.OutMessage{ID: "a", Body: []byte(wireBody(secret))})
			if err == nil {
				t.Fatal("Publish succeeded, want an error")
			}
			if got := errors.Is(err, privacy.ErrUnavailable); got != tt.wantUnavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
			}
			if tt.wantAs != nil && !tt.wantAs(err) {
				t.Errorf("error %v (%T) is not of the SDK's type for it", err, errors.Unwrap(err))
			}
			for _, w := range append(tt.wantText, "publish to privops-tasks") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "jane.doe") {
				t.Errorf("error %q quotes the body", err)
			}
			if n := len(s.recorded()); n != tt.wantCalls {
				t.Errorf("made %d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}
