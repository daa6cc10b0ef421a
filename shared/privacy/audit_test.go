package privacy_test

import (
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // named zones without depending on the host's zoneinfo

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

var auditStart = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

// sealedChain returns n events of tenant acme, sealed one after the other.
func sealedChain(tb testing.TB, n int) []privacy.AuditEvent {
	tb.Helper()
	hasher := privacy.SubjectHasher{Key: []byte("0123456789abcdef0123456789abcdef")}
	events := make([]privacy.AuditEvent, n)
	for i := range events {
		events[i] = privacy.AuditEvent{
			ID:          fmt.Sprintf("evt-%d", i+1),
			TenantID:    "acme",
			At:          auditStart.Add(time.Duration(i) * time.Hour),
			Actor:       "admin:alice",
			Action:      "request.approved",
			Target:      fmt.Sprintf("request/req-%d", i+1),
			SubjectHash: hasher.Hash("acme", fmt.Sprintf("subject-%d@example.com", i)),
			Details:     map[string]string{"status": "approved", "channel": "portal"},
		}
		var prev *privacy.AuditEvent
		if i > 0 {
			prev = &events[i-1]
		}
		privacy.Seal(&events[i], prev)
	}
	return events
}

func TestSeal(t *testing.T) {
	t.Parallel()
	events := sealedChain(t, 3)
	type chainFields struct {
		Seq      int64
		PrevHash string
	}
	var got []chainFields
	for _, e := range events {
		got = append(got, chainFields{e.Seq, e.PrevHash})
		if e.Hash != privacy.ChainHash(e) {
			t.Errorf("event %d: Hash is not ChainHash of the sealed event", e.Seq)
		}
	}
	want := []chainFields{{1, ""}, {2, events[0].Hash}, {3, events[1].Hash}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sealed chain fields (-want +got):\n%s", diff)
	}
}

func TestVerifyChainIntact(t *testing.T) {
	t.Parallel()
	events := sealedChain(t, 5)
	cases := []struct {
		name     string
		prevSeq  int64
		prevHash string
		events   []privacy.AuditEvent
	}{
		{"whole chain", 0, "", events},
		{"a page after event 2", 2, events[1].Hash, events[2:]},
		{"empty page", 5, events[4].Hash, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if b := privacy.VerifyChain(tc.prevSeq, tc.prevHash, tc.events); b != nil {
				t.Errorf("VerifyChain = %+v, want nil", *b)
			}
		})
	}
}

func TestVerifyChainDetectsTampering(t *testing.T) {
	t.Parallel()
	const hashMismatch, prevMismatch, gap = "hash mismatch", "previous hash mismatch", "sequence gap"
	cases := []struct {
		name   string
		tamper func(events []privacy.AuditEvent) []privacy.AuditEvent
		want   privacy.ChainBreak
	}{
		{"action altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].Action = "request.denied"
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"actor altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].Actor = "admin:mallory"
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"target altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].Target = "request/req-99"
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"details value altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].Details = map[string]string{"status": "denied", "channel": "portal"}
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"details entry added", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].Details = map[string]string{"status": "approved", "channel": "portal", "note": "x"}
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"details removed", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].Details = nil
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"time moved by a second", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].At = ev[2].At.Add(time.Second)
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"subject hash altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].SubjectHash = ev[1].SubjectHash
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"id altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].ID = "evt-99"
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"tenant altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].TenantID = "globex"
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"hash altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].Hash = ev[1].Hash
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: hashMismatch}},
		{"altered and rehashed", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			// A forger who recomputes the altered event's hash breaks the next link.
			ev[2].Action = "request.denied"
			ev[2].Hash = privacy.ChainHash(ev[2])
			return ev
		}, privacy.ChainBreak{Seq: 4, Reason: prevMismatch}},
		{"previous hash altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].PrevHash = ev[0].Hash
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: prevMismatch}},
		{"previous hash cleared", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].PrevHash = ""
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: prevMismatch}},
		{"middle event deleted", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			return append(ev[:2:2], ev[3:]...)
		}, privacy.ChainBreak{Seq: 4, Reason: gap}},
		{"first event deleted", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			return ev[1:]
		}, privacy.ChainBreak{Seq: 2, Reason: gap}},
		{"middle events swapped", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[1], ev[2] = ev[2], ev[1]
			return ev
		}, privacy.ChainBreak{Seq: 3, Reason: gap}},
		{"swapped and renumbered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[1], ev[2] = ev[2], ev[1]
			ev[1].Seq, ev[2].Seq = 2, 3
			return ev
		}, privacy.ChainBreak{Seq: 2, Reason: prevMismatch}},
		{"event renumbered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[2].Seq = 7
			return ev
		}, privacy.ChainBreak{Seq: 7, Reason: gap}},
		{"event duplicated", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			return append(ev[:3:3], ev[2:]...)
		}, privacy.ChainBreak{Seq: 3, Reason: gap}},
		{"last event altered", func(ev []privacy.AuditEvent) []privacy.AuditEvent {
			ev[4].Details = map[string]string{"status": "approved", "channel": "admin"}
			return ev
		}, privacy.ChainBreak{Seq: 5, Reason: hashMismatch}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			events := tc.tamper(sealedChain(t, 5))
			got := privacy.VerifyChain(0, "", events)
			if got == nil {
				t.Fatal("VerifyChain = nil, want a break")
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("VerifyChain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyChainWrongStartingPoint(t *testing.T) {
	t.Parallel()
	events := sealedChain(t, 5)
	cases := []struct {
		name     string
		prevSeq  int64
		prevHash string
		want     privacy.ChainBreak
	}{
		{"previous sequence too low", 1, events[1].Hash, privacy.ChainBreak{Seq: 3, Reason: "sequence gap"}},
		{"previous hash of another event", 2, events[0].Hash, privacy.ChainBreak{Seq: 3, Reason: "previous hash mismatch"}},
		{"previous hash empty", 2, "", privacy.ChainBreak{Seq: 3, Reason: "previous hash mismatch"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := privacy.VerifyChain(tc.prevSeq, tc.prevHash, events[2:])
			if got == nil {
				t.Fatal("VerifyChain = nil, want a break")
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("VerifyChain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChainHashIsCanonical(t *testing.T) {
	t.Parallel()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	details := func(keys ...string) map[string]string {
		m := make(map[string]string, len(keys))
		for _, k := range keys {
			m[k] = "v-" + k
		}
		return m
	}
	event := func(at time.Time, d map[string]string) privacy.AuditEvent {
		return privacy.AuditEvent{ID: "evt-1", TenantID: "acme", Seq: 4, At: at, Actor: "system",
			Action: "request.completed", Target: "request/r-1", Details: d, PrevHash: "abc"}
	}
	want := privacy.ChainHash(event(auditStart, details("a", "b", "c", "d", "e")))
	cases := []struct {
		name  string
		event privacy.AuditEvent
	}{
		{"details inserted in reverse", event(auditStart, details("e", "d", "c", "b", "a"))},
		{"details inserted shuffled", event(auditStart, details("c", "a", "e", "b", "d"))},
		{"same instant in Tokyo", event(auditStart.In(tokyo), details("a", "b", "c", "d", "e"))},
		{"same instant in New York", event(auditStart.In(newYork), details("a", "b", "c", "d", "e"))},
		{"same instant in a fixed zone", event(auditStart.In(time.FixedZone("X", -3*3600-1800)), details("a", "b", "c", "d", "e"))},
		{"stale hash field ignored", func() privacy.AuditEvent {
			e := event(auditStart, details("a", "b", "c", "d", "e"))
			e.Hash = "whatever was stored"
			return e
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := privacy.ChainHash(tc.event); got != want {
				t.Errorf("ChainHash = %s, want %s", got, want)
			}
		})
	}

	// Each computation on a fresh map, many times: map iteration order is random.
	for i := range 50 {
		if got := privacy.ChainHash(event(auditStart, details("e", "a", "d", "b", "c"))); got != want {
			t.Fatalf("run %d: ChainHash = %s, want %s", i, got, want)
		}
	}
	if got := privacy.ChainHash(event(auditStart, details("a", "b", "c", "d", "e"))); len(got) != 64 {
		t.Errorf("ChainHash length = %d, want 64 hex digits of SHA-256", len(got))
	}
	if privacy.ChainHash(event(auditStart.Add(time.Nanosecond), details("a", "b", "c", "d", "e"))) == want {
		t.Error("ChainHash ignores a nanosecond change of At")
	}
}

func TestSubjectHasher(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	base := privacy.SubjectHasher{Key: key}.Hash("acme", "ada@example.com")
	cases := []struct {
		name     string
		key      []byte
		tenant   string
		email    string
		wantSame bool
	}{
		{"identical", key, "acme", "ada@example.com", true},
		{"mixed case and trailing space", key, "acme", "Ada@Example.com ", true},
		{"leading space and tab", key, "acme", " \tADA@EXAMPLE.COM", true},
		{"another tenant", key, "globex", "ada@example.com", false},
		{"another key", []byte("fedcba9876543210fedcba9876543210"), "acme", "ada@example.com", false},
		{"another subject", key, "acme", "bob@example.com", false},
		{"tenant and email boundary shifted", key, "acm", "eada@example.com", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := privacy.SubjectHasher{Key: tc.key}.Hash(tc.tenant, tc.email)
			if (got == base) != tc.wantSame {
				t.Errorf("Hash(%q, %q) = %s; same as the base hash %s: %t, want %t", tc.tenant, tc.email, got, base, got == base, tc.wantSame)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"already normal", "ada@example.com", "ada@example.com"},
		{"upper case", "ADA@EXAMPLE.COM", "ada@example.com"},
		{"surrounding space", "  ada@example.com\n", "ada@example.com"},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := privacy.NormalizeEmail(tc.in); got != tc.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
