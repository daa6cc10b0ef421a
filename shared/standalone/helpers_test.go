package standalone

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// fakeReceiver is a privacy.Receiver made of function fields; a nil field
// succeeds with nothing.
type fakeReceiver struct {
	ReceiveFunc    func(ctx context.Context, queue string, lease time.Duration) (*privacy.Delivery, error)
	CompleteFunc   func(ctx context.Context, d *privacy.Delivery) error
	RetryFunc      func(ctx context.Context, d *privacy.Delivery, delay time.Duration) error
	DeadLetterFunc func(ctx context.Context, d *privacy.Delivery, reason string) error
	ExtendFunc     func(ctx context.Context, d *privacy.Delivery, lease time.Duration) error
}

var _ privacy.Receiver = (*fakeReceiver)(nil)

func (f *fakeReceiver) Receive(ctx context.Context, queue string, lease time.Duration) (*privacy.Delivery, error) {
	if f.ReceiveFunc == nil {
		return nil, nil
	}
	return f.ReceiveFunc(ctx, queue, lease)
}

func (f *fakeReceiver) Complete(ctx context.Context, d *privacy.Delivery) error {
	if f.CompleteFunc == nil {
		return nil
	}
	return f.CompleteFunc(ctx, d)
}

func (f *fakeReceiver) Retry(ctx context.Context, d *privacy.Delivery, delay time.Duration) error {
	if f.RetryFunc == nil {
		return nil
	}
	return f.RetryFunc(ctx, d, delay)
}

func (f *fakeReceiver) Extend(ctx context.Context, d *privacy.Delivery, lease time.Duration) error {
	if f.ExtendFunc == nil {
		return nil
	}
	return f.ExtendFunc(ctx, d, lease)
}

func (f *fakeReceiver) DeadLetter(ctx context.Context, d *privacy.Delivery, reason string) error {
	if f.DeadLetterFunc == nil {
		return nil
	}
	return f.DeadLetterFunc(ctx, d, reason)
}

// settlement is how a delivery was settled.
type settlement struct {
	Op     string // complete, retry, deadletter
	ID     string
	Delay  time.Duration
	Reason string
}

// recordingReceiver hands out deliveries once each, in order, to any queue, and
// reports every settlement on the returned channel.
func recordingReceiver(tb testing.TB, deliveries ...*privacy.Delivery) (*fakeReceiver, <-chan settlement) {
	tb.Helper()
	var mu sync.Mutex
	settled := make(chan settlement, 16)
	return &fakeReceiver{
		ReceiveFunc: func(context.Context, string, time.Duration) (*privacy.Delivery, error) {
			mu.Lock()
			defer mu.Unlock()
			if len(deliveries) == 0 {
				return nil, nil
			}
			d := deliveries[0]
			deliveries = deliveries[1:]
			return d, nil
		},
		CompleteFunc: func(_ context.Context, d *privacy.Delivery) error {
			settled <- settlement{Op: "complete", ID: d.ID}
			return nil
		},
		RetryFunc: func(_ context.Context, d *privacy.Delivery, delay time.Duration) error {
			settled <- settlement{Op: "retry", ID: d.ID, Delay: delay}
			return nil
		},
		DeadLetterFunc: func(_ context.Context, d *privacy.Delivery, reason string) error {
			settled <- settlement{Op: "deadletter", ID: d.ID, Reason: reason}
			return nil
		},
	}, settled
}

// start runs h on a fresh loopback listener and returns its base URL and a
// stop function that cancels Run and returns its error. Cleanup stops it too.
func start(tb testing.TB, h *Host) (baseURL string, stop func() error) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	h.Listener = ln
	if h.PollInterval == 0 {
		h.PollInterval = 10 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				tb.Errorf("Run did not return after cancel")
			}
		})
		return runErr
	}
	tb.Cleanup(func() { _ = stop() })
	return "http://" + ln.Addr().String(), stop
}

// wait receives one value from ch or fails the test after a generous timeout.
func wait[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		tb.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func httpSpec(name, route string, methods ...string) funcjson.Spec {
	return funcjson.Spec{Name: name, Kind: funcjson.KindHTTP, Route: route, Methods: methods, TriggerName: "req", OutputName: "res"}
}

func queueSpec(name, queue string) funcjson.Spec {
	return funcjson.Spec{Name: name, Kind: funcjson.KindQueue, Queue: queue, DataType: "binary", TriggerName: "msg"}
}

func timerSpec(name, schedule string) funcjson.Spec {
	return funcjson.Spec{Name: name, Kind: funcjson.KindTimer, Schedule: schedule, TriggerName: "timer"}
}

// named answers with its name and the invocation's function.
func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, ok := trigger.InvocationFrom(r.Context())
		if !ok || inv.ID == "" {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		_, _ = w.Write([]byte(name + "/" + inv.Function))
	})
}
