package sqs

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

func TestQueueURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		prefix      string
		queues      []string // published to in turn
		wantURLs    []string // of the sends
		wantLookups map[string]int
		wantFIFO    []bool // whether each send carried FIFO ids
	}{
		{
			name:        "a name is resolved once and cached",
			queues:      []string{"privops-tasks", "privops-tasks", "privops-notices.fifo", "privops-tasks"},
			wantURLs:    []string{testURLPrefix + "privops-tasks", testURLPrefix + "privops-tasks", testURLPrefix + "privops-notices.fifo", testURLPrefix + "privops-tasks"},
			wantLookups: map[string]int{"privops-tasks": 1, "privops-notices.fifo": 1},
			wantFIFO:    []bool{false, false, true, false},
		},
		{
			name:        "a prefix makes the url without a lookup",
			prefix:      "http://localhost:4566/000000000000",
			queues:      []string{"privops-tasks", "privops-tasks.fifo"},
			wantURLs:    []string{"http://localhost:4566/000000000000/privops-tasks", "http://localhost:4566/000000000000/privops-tasks.fifo"},
			wantLookups: map[string]int{},
			wantFIFO:    []bool{false, true},
		},
		{
			name:        "a url is used as it is",
			queues:      []string{"https://sqs.eu-west-1.amazonaws.com/123456789012/other.fifo"},
			wantURLs:    []string{"https://sqs.eu-west-1.amazonaws.com/123456789012/other.fifo"},
			wantLookups: map[string]int{},
			wantFIFO:    []bool{true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAPI{}
			p := newPublisher(f, tt.prefix, func() time.Time { return testNow })
			for _, q := range tt.queues {
				if err := p.Publish(t.Context(), q, msg("a")); err != nil {
					t.Fatalf("Publish to %s: %v", q, err)
				}
			}
			if diff := cmp.Diff(tt.wantURLs, f.queueURLs()); diff != "" {
				t.Errorf("queue urls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLookups, f.lookupCounts()); diff != "" {
				t.Errorf("GetQueueUrl calls per queue (-want +got):\n%s", diff)
			}
			var gotFIFO []bool
			for _, call := range f.sent() {
				gotFIFO = append(gotFIFO, call[0].DedupeID != "")
			}
			if diff := cmp.Diff(tt.wantFIFO, gotFIFO); diff != "" {
				t.Errorf("FIFO ids per send (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQueueURLFailureIsNotCached(t *testing.T) {
	t.Parallel()
	missing := true
	f := &fakeAPI{urlErr: func(string) error {
		if missing {
			return opError("GetQueueUrl", httpError(400, &types.QueueDoesNotExist{}))
		}
		return nil
	}}
	p, _ := newTestPublisher(t, f)
	err := p.Publish(t.Context(), "privops-tasks", msg("a"))
	var notExist *types.QueueDoesNotExist
	if !errors.As(err, &notExist) || errors.Is(err, privacy.ErrUnavailable) || !strings.Contains(err.Error(), "privops-tasks") {
		t.Fatalf("Publish error = %v, want a plain QueueDoesNotExist naming the queue", err)
	}
	missing = false
	if err := p.Publish(t.Context(), "privops-tasks", msg("a")); err != nil {
		t.Fatalf("Publish once the queue exists: %v", err)
	}
	if diff := cmp.Diff(map[string]int{"privops-tasks": 2}, f.lookupCounts()); diff != "" {
		t.Errorf("GetQueueUrl calls (-want +got):\n%s", diff)
	}
}

func TestPublishConcurrently(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	p, _ := newTestPublisher(t, f)
	const queues, perQueue = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, queues*perQueue)
	for q := range queues {
		for i := range perQueue {
			wg.Go(func() {
				errs <- p.Publish(t.Context(), fmt.Sprintf("q%d", q), msg(fmt.Sprintf("m%d", i)))
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	sends := map[string]int{}
	for _, u := range f.queueURLs() {
		sends[strings.TrimPrefix(u, testURLPrefix)]++
	}
	want := map[string]int{}
	for q := range queues {
		want[fmt.Sprintf("q%d", q)] = perQueue
	}
	if diff := cmp.Diff(want, sends); diff != "" {
		t.Errorf("sends per queue (-want +got):\n%s", diff)
	}
	for q, n := range f.lookupCounts() {
		if n < 1 || n > perQueue {
			t.Errorf("looked %s up %d times", q, n)
		}
	}
}
