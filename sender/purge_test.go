package sender_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/sender"
)

// TestSignCommandKnownVector: the command key and signature, recomputed with
// openssl:
//
//	K=$(printf %s privops-servicebus/command | openssl dgst -sha256 -mac HMAC -macopt key:0123456789abcdef0123456789abcdef)
//	printf '1900000000.{"purgeId":"p1"}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K
func TestSignCommandKnownVector(t *testing.T) {
	t.Parallel()
	got := sender.SignCommand([]sender.Key{key}, []byte(`{"purgeId":"p1"}`), time.Unix(1900000000, 0))
	want := "t=1900000000,k=k1,v1=0c17b90deb591ea5d9fcf2073a28250a6007fbaad570c0ea5ee3c16447ba5a7d"
	if got != want {
		t.Errorf("SignCommand = %s, want %s", got, want)
	}
}

// TestVerifyCommand: a command verifies with any one of the keys it was
// signed with, within the window, over the exact body; a message signed for
// privops (the secret itself, not the command key) never passes as one.
func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	other := sender.Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
	body := []byte(`{"purgeId":"p1"}`)
	sig := sender.SignCommand([]sender.Key{key, other}, body, now)
	tests := []struct {
		name string
		keys []sender.Key
		body []byte
		sig  string
		at   time.Time
		ok   bool
	}{
		{"first key", []sender.Key{key}, body, sig, now, true},
		{"second key", []sender.Key{other}, body, sig, now, true},
		{"a key it was not signed with", []sender.Key{{ID: "k1", Secret: other.Secret}}, body, sig, now, false},
		{"altered body", []sender.Key{key}, []byte(`{"purgeId":"p2"}`), sig, now, false},
		{"stale", []sender.Key{key}, body, sig, now.Add(6 * time.Minute), false},
		{"future", []sender.Key{key}, body, sig, now.Add(-6 * time.Minute), false},
		{"a message signed for privops", []sender.Key{key}, body, sender.Sign(key, body, now), now, false},
		{"unsigned", []sender.Key{key}, body, "", now, false},
		{"malformed", []sender.Key{key}, body, "t=x,k=k1,v1=zz", now, false},
	}
	for _, tt := range tests {
		err := sender.VerifyCommand(tt.keys, tt.body, tt.sig, tt.at, 0)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, sender.ErrBadCommand) {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestNewPurgeCompleted(t *testing.T) {
	t.Parallel()
	e, err := sender.NewPurgeCompleted("acme", "/services/erp", sender.PurgeCompleted{RunID: "run_1", PolicyID: "erp-orders", Outcome: sender.PurgeDone, Purged: 3})
	if err != nil || e.Type != sender.TypePurgeCompleted || e.Subject != "run_1" {
		t.Fatalf("%+v, %v", e, err)
	}
	for name, d := range map[string]sender.PurgeCompleted{
		"no run":                    {PolicyID: "p", Outcome: sender.PurgeDone},
		"unknown outcome":           {RunID: "r", PolicyID: "p", Outcome: "partly"},
		"negative":                  {RunID: "r", PolicyID: "p", Outcome: sender.PurgeDone, Kept: -1},
		"not-supported with counts": {RunID: "r", PolicyID: "p", Outcome: sender.PurgeNotSupported, Purged: 1},
	} {
		if _, err := sender.NewPurgeCompleted("acme", "/s", d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestExclusionHashNormalises: white space and case do not change the hash.
func TestExclusionHashNormalises(t *testing.T) {
	t.Parallel()
	salt := []byte(strings.Repeat("s", 32))
	if a, b := sender.ExclusionHash(salt, " Ada@Example.COM\t"), sender.ExclusionHash(salt, "ada@example.com"); a != b || len(a) != 64 {
		t.Errorf("%s != %s", a, b)
	}
	if sender.ExclusionHash(salt, "ada@example.com") == sender.ExclusionHash([]byte(strings.Repeat("t", 32)), "ada@example.com") {
		t.Error("the salt does not change the hash")
	}
}
