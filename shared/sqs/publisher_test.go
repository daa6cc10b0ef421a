package sqs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

var testNow = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

// sleeper records the waits a Publisher asks for without waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeper) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waits
}

// newTestPublisher returns a Publisher over f that resolves names with
// GetQueueUrl, with the clock fixed at testNow and waits recorded, not waited.
func newTestPublisher(tb testing.TB, f *fakeAPI) (*Publisher, *sleeper) {
	tb.Helper()
	p := newPublisher(f, "", func() time.Time { return testNow })
	s := &sleeper{}
	p.sleep = s.sleep
	return p, s
}

func body(id string) string { return fmt.Sprintf(`{"id":%q}`, id) }

// msg is an immediate message whose body names its id.
func msg(id string) privacy.OutMessage {
	return privacy.OutMessage{ID: id, Body: []byte(body(id))}
}

func at(m privacy.OutMessage, t time.Time) privacy.OutMessage {
	m.NotBefore = t
	return m
}

// sent is what msg(id) looks like as batch entry entry.
func sent(entry, id string) sentEntry { return sentEntry{Entry: entry, Body: body(id)} }

func delayed(e sentEntry, seconds int32) sentEntry {
	e.Delay = seconds
	return e
}

func withAttrs(e sentEntry, attrs map[string]string) sentEntry {
	e.Attributes = attrs
	return e
}

func fifo(e sentEntry, id string) sentEntry {
	e.DedupeID, e.GroupID = id, id
	return e
}

func TestPublish(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	long := strings.Repeat("x", 129)
	hashOf := map[string]string{ // from sha256sum
		long:  "sha256:0ec9eb33e74510bcdd1f2ea55206e82f21649c5c2becbf2b433eb475b34c01bd",
		"a b": "sha256:c8687a08aa5d6ed2044328fa6a697ab8e96dc34291e8c2034ae8c38e6fcc6d65",
		"é":   "sha256:4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c",
	}
	tests := []struct {
		name  string
		queue string
		msgs  []privacy.OutMessage
		want  [][]sentEntry
	}{
		{
			name:  "one message carries its body and nothing else",
			queue: "privops-tasks",
			msgs:  []privacy.OutMessage{msg("a")},
			want:  [][]sentEntry{{sent("m0", "a")}},
		},
		{
			name:  "content type and properties become string attributes",
			queue: "privops-inbound",
			msgs: []privacy.OutMessage{
				{ID: "a", Body: []byte(body("a")), ContentType: "application/cloudevents+json",
					Properties: map[string]string{"tenant": "demo", "signature": "v1=abc", "ContentType": "text/plain", "empty": ""}},
				{ID: "b", Body: []byte(body("b")), Properties: map[string]string{"tenant": "demo"}},
			},
			want: [][]sentEntry{{
				withAttrs(sent("m0", "a"), map[string]string{
					"ContentType": "application/cloudevents+json", "tenant": "demo", "signature": "v1=abc"}),
				withAttrs(sent("m1", "b"), map[string]string{"tenant": "demo"}),
			}},
		},
		{
			name:  "a NotBefore up to 15 minutes ahead is the delay, rounded up to the second",
			queue: "privops-tasks",
			msgs: []privacy.OutMessage{
				at(msg("a"), testNow.Add(90*time.Second+time.Millisecond)),
				at(msg("b"), testNow.Add(15*time.Minute).In(cet)),
				at(msg("c"), testNow),
				at(msg("d"), testNow.Add(-time.Hour)),
				msg("e"),
			},
			want: [][]sentEntry{{
				delayed(sent("m0", "a"), 91), delayed(sent("m1", "b"), 900),
				sent("m2", "c"), sent("m3", "d"), sent("m4", "e"),
			}},
		},
		{
			name:  "a NotBefore further ahead is sent at 15 minutes and names its time in UTC",
			queue: "privops-tasks",
			msgs: []privacy.OutMessage{
				at(msg("a"), testNow.Add(15*time.Minute+time.Second)),
				at(msg("b"), time.Date(2030, 2, 3, 3, 0, 0, 500, cet)),
			},
			want: [][]sentEntry{{
				withAttrs(delayed(sent("m0", "a"), 900), map[string]string{AttrNotBefore: "2030-01-31T02:15:01Z"}),
				withAttrs(delayed(sent("m1", "b"), 900), map[string]string{AttrNotBefore: "2030-02-03T02:00:00.0000005Z"}),
			}},
		},
		{
			name:  "a FIFO message is its own group and deduplicated by its id",
			queue: "privops-tasks.fifo",
			msgs:  []privacy.OutMessage{msg("task-1#2.w1a"), msg(`!"#$%&'()*+,-./:;<=>?@[\]^_{|}~` + "`")},
			want: [][]sentEntry{{
				fifo(sent("m0", "task-1#2.w1a"), "task-1#2.w1a"),
				fifo(sent("m1", `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`+"`"), `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`+"`"),
			}},
		},
		{
			name:  "a FIFO id SQS would refuse is hashed",
			queue: "privops-tasks.fifo",
			msgs:  []privacy.OutMessage{msg(long), msg("a b"), msg("é"), msg(strings.Repeat("y", 128))},
			want: [][]sentEntry{{
				fifo(sent("m0", long), hashOf[long]),
				fifo(sent("m1", "a b"), hashOf["a b"]),
				fifo(sent("m2", "é"), hashOf["é"]),
				fifo(sent("m3", strings.Repeat("y", 128)), strings.Repeat("y", 128)),
			}},
		},
		{
			name:  "a FIFO queue takes no delay: a future NotBefore only names its time",
			queue: "privops-tasks.fifo",
			msgs:  []privacy.OutMessage{at(msg("a"), testNow.Add(30*time.Second)), at(msg("b"), testNow.Add(-time.Second))},
			want: [][]sentEntry{{
				withAttrs(fifo(sent("m0", "a"), "a"), map[string]string{AttrNotBefore: "2030-01-31T02:00:30Z"}),
				fifo(sent("m1", "b"), "b"),
			}},
		},
		{
			name:  "a repeated id is sent once, the first one wins",
			queue: "privops-tasks",
			msgs:  []privacy.OutMessage{msg("a"), {ID: "a", Body: []byte("a second body")}, msg("b")},
			want:  [][]sentEntry{{sent("m0", "a"), sent("m2", "b")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAPI{}
			p, _ := newTestPublisher(t, f)
			if err := p.Publish(t.Context(), tt.queue, tt.msgs...); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if diff := cmp.Diff(tt.want, f.sent()); diff != "" {
				t.Errorf("sent batches (-want +got):\n%s", diff)
			}
			for _, u := range f.queueURLs() {
				if u != testURLPrefix+tt.queue {
					t.Errorf("sent to %s, want %s", u, testURLPrefix+tt.queue)
				}
			}
		})
	}
}

func TestPublishSplits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		n     int // messages
		bytes int // body bytes of each
		want  []int
	}{
		{name: "ten messages a batch", n: 25, bytes: 20, want: []int{10, 10, 5}},
		{name: "exactly ten fit one batch", n: 10, bytes: 20, want: []int{10}},
		{name: "at most 256 KiB a batch", n: 5, bytes: 100 << 10, want: []int{2, 2, 1}},
		{name: "two halves fill a batch exactly", n: 3, bytes: 128 << 10, want: []int{2, 1}},
		{name: "a message of 256 KiB goes alone", n: 2, bytes: 256 << 10, want: []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAPI{}
			p, _ := newTestPublisher(t, f)
			var msgs []privacy.OutMessage
			for i := range tt.n {
				msgs = append(msgs, privacy.OutMessage{ID: fmt.Sprintf("m%02d", i), Body: []byte(strings.Repeat("x", tt.bytes))})
			}
			if err := p.Publish(t.Context(), "privops-tasks", msgs...); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			var got []int
			var order []string
			for _, call := range f.sent() {
				got = append(got, len(call))
				for _, e := range call {
					order = append(order, e.Entry)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("batch sizes (-want +got):\n%s", diff)
			}
			var want []string
			for i := range tt.n {
				want = append(want, fmt.Sprintf("m%d", i))
			}
			if diff := cmp.Diff(want, order); diff != "" {
				t.Errorf("entries in order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishNothing(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	p, _ := newTestPublisher(t, f)
	if err := p.Publish(t.Context(), "privops-tasks"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if len(f.sent()) != 0 || len(f.lookupCounts()) != 0 {
		t.Errorf("made %d sends and %d lookups for no messages, want none", len(f.sent()), len(f.lookupCounts()))
	}
}

func TestPublishRejects(t *testing.T) {
	t.Parallel()
	// Text that stands for personal data: it must never reach an error.
	const secret = "jane.doe@example.com"
	withProps := func(props map[string]string) privacy.OutMessage {
		return privacy.OutMessage{ID: "bad", Body: []byte(body(secret)), Properties: props}
	}
	eleven := map[string]string{}
	for i := range 11 {
		eleven[fmt.Sprintf("p%d", i)] = "v"
	}
	ten := map[string]string{}
	for i := range 10 {
		ten[fmt.Sprintf("p%d", i)] = "v"
	}
	tests := []struct {
		name     string
		queue    string
		msgs     []privacy.OutMessage
		wantText []string // the error contains each
	}{
		{name: "no queue name", queue: "", msgs: []privacy.OutMessage{msg("a")}, wantText: []string{"queue name is empty"}},
		{name: "a message without an id", msgs: []privacy.OutMessage{msg("a"), {Body: []byte(secret)}},
			wantText: []string{"message 1 has no id"}},
		{name: "an empty body", msgs: []privacy.OutMessage{msg("a"), {ID: "bad"}},
			wantText: []string{"message bad", "body is empty"}},
		{name: "a body that is not UTF-8", msgs: []privacy.OutMessage{{ID: "bad", Body: append([]byte(`{"e":"`+secret), 0xff, '"', '}')}},
			wantText: []string{"message bad", "invalid UTF-8 at byte 26"}},
		{name: "a body with a control character", msgs: []privacy.OutMessage{{ID: "bad", Body: []byte(secret + "\x00")}},
			wantText: []string{"message bad", "U+0000 at byte 20"}},
		{name: "a body with a non-character", msgs: []privacy.OutMessage{{ID: "bad", Body: []byte(secret + "\uFFFE")}},
			wantText: []string{"message bad", "U+FFFE at byte 20"}},
		{name: "a body with a lone surrogate", msgs: []privacy.OutMessage{{ID: "bad", Body: []byte(secret + "\xed\xa0\x80")}},
			wantText: []string{"message bad", "invalid UTF-8 at byte 20"}},
		{name: "an attribute value SQS refuses", msgs: []privacy.OutMessage{withProps(map[string]string{"sig": secret + "\x01"})},
			wantText: []string{"message bad", `attribute "sig"`, "U+0001"}},
		{name: "a content type SQS refuses", msgs: []privacy.OutMessage{{ID: "bad", Body: []byte("{}"), ContentType: "text/\x7f\xff"}},
			wantText: []string{"message bad", `attribute "ContentType"`, "invalid UTF-8"}},
		{name: "an attribute name with a space", msgs: []privacy.OutMessage{withProps(map[string]string{"has space": "v"})},
			wantText: []string{"message bad", `"has space"`}},
		{name: "a reserved attribute name", msgs: []privacy.OutMessage{withProps(map[string]string{"aws.trace": "v"})},
			wantText: []string{"message bad", "reserved"}},
		{name: "an attribute name with a doubled dot", msgs: []privacy.OutMessage{withProps(map[string]string{"a..b": "v"})},
			wantText: []string{"message bad", "doubled"}},
		{name: "an empty attribute name", msgs: []privacy.OutMessage{withProps(map[string]string{"": "v"})},
			wantText: []string{"message bad", "0 bytes"}},
		{name: "eleven attributes", msgs: []privacy.OutMessage{withProps(eleven)},
			wantText: []string{"message bad", "11 message attributes"}},
		{name: "ten properties and a content type", msgs: []privacy.OutMessage{{ID: "bad", Body: []byte("{}"), Properties: ten, ContentType: "application/json"}},
			wantText: []string{"message bad", "11 message attributes"}},
		{name: "a message over 256 KiB", msgs: []privacy.OutMessage{msg("a"), {ID: "bad", Body: []byte(strings.Repeat(secret, 13108))}},
			wantText: []string{"message bad", "262160 bytes"}},
		{name: "attributes that tip a message over 256 KiB",
			msgs:     []privacy.OutMessage{{ID: "bad", Body: []byte(strings.Repeat("x", 256<<10-10)), ContentType: "text/plain"}},
			wantText: []string{"message bad", "262161 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			queue := tt.queue
			if tt.name != "no queue name" {
				queue = "privops-tasks"
			}
			f := &fakeAPI{}
			p, _ := newTestPublisher(t, f)
			err := p.Publish(t.Context(), queue, tt.msgs...)
			if err == nil {
				t.Fatal("Publish succeeded, want an error")
			}
			for _, w := range append(tt.wantText, queue) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "jane.doe") {
				t.Errorf("error %q quotes a body or attribute value", err)
			}
			if errors.Is(err, privacy.ErrUnavailable) {
				t.Errorf("error %v is ErrUnavailable, want a permanent error", err)
			}
			if len(f.sent()) != 0 || len(f.lookupCounts()) != 0 {
				t.Errorf("made %d sends and %d lookups, want none (nothing half-sent)", len(f.sent()), len(f.lookupCounts()))
			}
		})
	}
}
