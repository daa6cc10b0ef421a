package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/privacy"
)

// now is the fixed clock of the tests: month-end, where deadline bugs live.
var now = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

// The tenants' keys: acme is rolling from k1 to k2 (both active) and retired
// k0; globex has one key.
var (
	keyA1 = sender.Key{ID: "k1", Secret: []byte("acme-k1-0123456789abcdef01234567")}
	keyA2 = sender.Key{ID: "k2", Secret: []byte("acme-k2-0123456789abcdef01234567")}
	keyA0 = sender.Key{ID: "k0", Secret: []byte("acme-k0-0123456789abcdef01234567")} // retired
	keyG1 = sender.Key{ID: "g1", Secret: []byte("globex-g1-0123456789abcdef012345")}
)

// fakeKeys is the tenant key store: a behavioural fake with the lookup
// contract of KeyFunc. Tenant "flaky" fails as a throttled store does.
func fakeKeys(_ context.Context, tenantID, keyID string) ([]byte, error) {
	active := map[string][]sender.Key{"acme": {keyA1, keyA2}, "globex": {keyG1}}
	if tenantID == "flaky" {
		return nil, privacy.ErrUnavailable
	}
	keys, ok := active[tenantID]
	if !ok {
		return nil, privacy.ErrNotFound
	}
	for _, k := range keys {
		if k.ID == keyID {
			return k.Secret, nil
		}
	}
	for other, keys := range active {
		for _, k := range keys {
			if other != tenantID && k.ID == keyID {
				return nil, ErrForeignKey
			}
		}
	}
	return nil, ErrUnknownKey
}

// signed returns a delivery of body as the sender kit sends it, signed with key at t.
func signed(body []byte, key sender.Key, t time.Time) Delivery {
	return Delivery{Body: body, ContentType: sender.ContentType,
		Properties: map[string]string{SignatureProperty: sender.Sign(key, body, t)}}
}

// codeOf returns the code of err: "" for nil, "<transient>" for an error that
// is not an *Error.
func codeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return "<transient>"
	}
	return e.Code
}

// example reads a contract example.
func example(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "contract", "examples", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// examples lists the contract examples under dir (relative to contract/examples).
func examples(tb testing.TB, dir string) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("..", "..", "contract", "examples", dir, "*.json"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no examples in %s: %v", dir, err)
	}
	for i, n := range names {
		names[i] = filepath.Join(dir, filepath.Base(n))
	}
	return names
}

// edit returns body with change applied to its generic JSON form.
func edit(tb testing.TB, body []byte, change func(map[string]any)) []byte {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatal(err)
	}
	change(v)
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// dataOf returns the data object of a generic envelope.
func dataOf(v map[string]any) map[string]any { return v["data"].(map[string]any) }
