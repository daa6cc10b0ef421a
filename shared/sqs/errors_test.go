package sqs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// httpError is an SDK error for an HTTP answer of status.
func httpError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
}

func opError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "SQS", OperationName: op, Err: err}
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		err             error
		wantUnavailable bool
	}{
		{name: "throttled", err: httpError(400, &types.RequestThrottled{Message: aws.String("slow down")}), wantUnavailable: true},
		{name: "throttled after the SDK's retries",
			err: &retry.MaxAttemptsError{Attempt: 3, Err: httpError(400, &types.RequestThrottled{})}, wantUnavailable: true},
		{name: "KMS throttled (query code)",
			err: httpError(400, &smithy.GenericAPIError{Code: "KMS.ThrottlingException", Fault: smithy.FaultClient}), wantUnavailable: true},
		{name: "the service's own fault",
			err: httpError(500, &smithy.GenericAPIError{Code: "InternalError", Fault: smithy.FaultServer}), wantUnavailable: true},
		{name: "503 without a code", err: httpError(503, errors.New("service unavailable")), wantUnavailable: true},
		{name: "429 without a code", err: httpError(429, errors.New("too many requests")), wantUnavailable: true},
		{name: "the request could not be sent",
			err: &smithyhttp.RequestSendError{Err: errors.New("connection reset by peer")}, wantUnavailable: true},
		{name: "the context's deadline", err: fmt.Errorf("sending: %w", context.DeadlineExceeded), wantUnavailable: true},
		{name: "an invalid parameter",
			err: httpError(400, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "bad DelaySeconds", Fault: smithy.FaultClient})},
		{name: "the queue does not exist",
			err: httpError(400, &types.QueueDoesNotExist{ErrorCodeOverride: aws.String("AWS.SimpleQueueService.NonExistentQueue")})},
		{name: "access denied", err: httpError(403, &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient})},
		{name: "the KMS key is denied", err: httpError(400, &types.KmsAccessDenied{})},
		{name: "the context was cancelled", err: context.Canceled},
		{name: "anything else", err: errors.New("boom")},
	}
	for _, tt := range tests {
		for _, op := range []string{"SendMessageBatch", "GetQueueUrl"} {
			t.Run(tt.name+" in "+op, func(t *testing.T) {
				t.Parallel()
				wrapped := opError(op, tt.err)
				f := &fakeAPI{}
				if op == "GetQueueUrl" {
					f.urlErr = func(string) error { return wrapped }
				} else {
					f.sendErr = func(int) error { return wrapped }
				}
				p, s := newTestPublisher(t, f)
				err := p.Publish(t.Context(), "privops-tasks", msg("a"))
				if !errors.Is(err, tt.err) {
					t.Fatalf("Publish error %v does not wrap %v", err, tt.err)
				}
				if got := errors.Is(err, privacy.ErrUnavailable); got != tt.wantUnavailable {
					t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
				}
				if !strings.Contains(err.Error(), "privops-tasks") {
					t.Errorf("error %q does not name the queue", err)
				}
				if strings.Contains(err.Error(), body("a")) {
					t.Errorf("error %q quotes the body", err)
				}
				if n := len(f.sent()); op == "SendMessageBatch" && n != 1 {
					t.Errorf("made %d sends, want 1 (the SDK retries a failed call, not Publish)", n)
				}
				if n := len(s.all()); n != 0 {
					t.Errorf("waited %d times, want none", n)
				}
			})
		}
	}
}

// failing returns a fake's fail function: the entries whose body is that of
// ids[call] fail with code, as the service's fault unless senderFault.
func failing(code string, senderFault bool, ids map[int][]string) func(int, sentEntry) *types.BatchResultErrorEntry {
	return func(call int, e sentEntry) *types.BatchResultErrorEntry {
		for _, id := range ids[call] {
			if e.Body == body(id) {
				return &types.BatchResultErrorEntry{Code: aws.String(code), SenderFault: senderFault, Message: aws.String("no")}
			}
		}
		return nil
	}
}

func TestPublishRetriesFailedEntries(t *testing.T) {
	t.Parallel()
	msgs := []privacy.OutMessage{msg("a"), msg("b"), msg("c"), msg("d"), msg("e")}
	tests := []struct {
		name string
		fake *fakeAPI
		want [][]string // the entry ids of each call
	}{
		{
			name: "the service's own failures",
			fake: &fakeAPI{fail: failing("InternalError", false, map[int][]string{1: {"b", "d"}, 2: {"d"}})},
			want: [][]string{{"m0", "m1", "m2", "m3", "m4"}, {"m1", "m3"}, {"m3"}},
		},
		{
			name: "throttled entries, even as the sender's fault",
			fake: &fakeAPI{fail: failing("RequestThrottled", true, map[int][]string{1: {"a"}})},
			want: [][]string{{"m0", "m1", "m2", "m3", "m4"}, {"m0"}},
		},
		{
			name: "entries the answer does not mention",
			fake: &fakeAPI{omit: func(call int, e sentEntry) bool { return call == 1 && e.Body == body("e") }},
			want: [][]string{{"m0", "m1", "m2", "m3", "m4"}, {"m4"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.fake
			p, s := newTestPublisher(t, f)
			if err := p.Publish(t.Context(), "privops-tasks", msgs...); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			var got [][]string
			for _, call := range f.sent() {
				var ids []string
				for _, e := range call {
					ids = append(ids, e.Entry)
				}
				got = append(got, ids)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries sent per call (-want +got):\n%s", diff)
			}
			checkWaits(t, s.all(), len(tt.want)-1)
		})
	}
}

// checkWaits checks that waits are n backoffs in order: the i-th in
// (base<<i / 2, base<<i].
func checkWaits(tb testing.TB, waits []time.Duration, n int) {
	tb.Helper()
	if len(waits) != n {
		tb.Fatalf("waited %d times (%v), want %d", len(waits), waits, n)
	}
	for i, d := range waits {
		hi := entryRetryBase << i
		if d <= hi/2 || d > hi {
			tb.Errorf("wait %d = %s, want in (%s, %s]", i+1, d, hi/2, hi)
		}
	}
}

func TestPublishGivesUpOnEntriesThatKeepFailing(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{fail: func(_ int, e sentEntry) *types.BatchResultErrorEntry {
		if e.Body == body("b") || e.Body == body("c") {
			return &types.BatchResultErrorEntry{Code: aws.String("ServiceUnavailable"), SenderFault: false}
		}
		return nil
	}}
	p, s := newTestPublisher(t, f)
	msgs := []privacy.OutMessage{msg("a"), msg("b"), msg("c")}
	for i := range 11 { // a second batch, never sent
		msgs = append(msgs, msg(fmt.Sprintf("z%d", i)))
	}
	err := p.Publish(t.Context(), "privops-tasks", msgs...)
	if !errors.Is(err, privacy.ErrUnavailable) {
		t.Fatalf("Publish error = %v, want ErrUnavailable", err)
	}
	for _, w := range []string{"privops-tasks", "batch 1 of 2", "2 of 10 messages", "after 4 attempts", "b (ServiceUnavailable)", "c (ServiceUnavailable)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if n := len(f.sent()); n != 1+entryRetries {
		t.Errorf("made %d sends, want %d", n, 1+entryRetries)
	}
	checkWaits(t, s.all(), entryRetries)
}

func TestPublishStopsAtARefusedEntry(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{fail: failing("InvalidParameterValue", true, map[int][]string{1: {"b"}})}
	p, s := newTestPublisher(t, f)
	msgs := []privacy.OutMessage{msg("a"), msg("b")}
	for i := range 10 {
		msgs = append(msgs, msg(fmt.Sprintf("z%d", i)))
	}
	err := p.Publish(t.Context(), "privops-tasks", msgs...)
	if err == nil || errors.Is(err, privacy.ErrUnavailable) {
		t.Fatalf("Publish error = %v, want a permanent error", err)
	}
	for _, w := range []string{"privops-tasks", "batch 1 of 2", "refused 1 of 10", "message b: InvalidParameterValue"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if n := len(f.sent()); n != 1 {
		t.Errorf("made %d sends, want 1 (no retry, no next batch)", n)
	}
	if n := len(s.all()); n != 0 {
		t.Errorf("waited %d times, want none", n)
	}
}

func TestPublishStopsAtTheFailedBatch(t *testing.T) {
	t.Parallel()
	throttled := httpError(400, &types.RequestThrottled{})
	f := &fakeAPI{sendErr: func(call int) error {
		if call == 2 {
			return throttled
		}
		return nil
	}}
	p, _ := newTestPublisher(t, f)
	var msgs []privacy.OutMessage
	for i := range 25 {
		msgs = append(msgs, msg(fmt.Sprintf("m%d", i)))
	}
	err := p.Publish(t.Context(), "privops-tasks", msgs...)
	if !errors.Is(err, privacy.ErrUnavailable) || !strings.Contains(err.Error(), "batch 2 of 3 (10 messages)") {
		t.Fatalf("Publish error = %v, want ErrUnavailable naming batch 2 of 3", err)
	}
	if n := len(f.sent()); n != 2 {
		t.Errorf("made %d sends, want 2 (none after the failure)", n)
	}
}

func TestPublishWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		cancel          func(ctx context.Context) (context.Context, func())
		wantErr         error
		wantUnavailable bool
	}{
		{
			name: "cancelled",
			cancel: func(ctx context.Context) (context.Context, func()) {
				ctx, cancel := context.WithCancel(ctx)
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
		{
			name: "deadline",
			cancel: func(ctx context.Context) (context.Context, func()) {
				ctx, cancel := context.WithTimeout(ctx, time.Hour)
				return ctx, cancel
			},
			wantErr: context.DeadlineExceeded, wantUnavailable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, stop := tt.cancel(t.Context())
			defer stop()
			f := &fakeAPI{fail: failing("InternalError", false, map[int][]string{1: {"a"}})}
			p := newPublisher(f, "", func() time.Time { return testNow })
			p.sleep = func(context.Context, time.Duration) error { stop(); return tt.wantErr } // as the real sleep does
			err := p.Publish(ctx, "privops-tasks", msg("a"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Publish error = %v, want %v", err, tt.wantErr)
			}
			if got := errors.Is(err, privacy.ErrUnavailable); got != tt.wantUnavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
			}
			if n := len(f.sent()); n != 1 {
				t.Errorf("made %d sends, want 1", n)
			}
		})
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if err := sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("sleep = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for retry := range entryRetries {
		for range 100 {
			hi := entryRetryBase << retry
			if d := backoff(retry); d <= hi/2 || d > hi {
				t.Fatalf("backoff(%d) = %s, want in (%s, %s]", retry, d, hi/2, hi)
			}
		}
	}
}
