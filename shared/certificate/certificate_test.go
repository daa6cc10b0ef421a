package certificate_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/certificate"
)

func key(seed byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)) }

func keysOf(privs ...ed25519.PrivateKey) map[string]ed25519.PublicKey {
	out := map[string]ed25519.PublicKey{}
	for _, p := range privs {
		pub := p.Public().(ed25519.PublicKey)
		out[certificate.KeyID(pub)] = pub
	}
	return out
}

const payload = `{"format":"privops-certificate/1","requestId":"dsr_1","status":"completed"}`

func sealed(tb testing.TB) []byte {
	tb.Helper()
	doc, err := certificate.Seal(key(1), []byte(payload))
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

// edit decodes a sealed document, changes it and encodes it again.
func edit(tb testing.TB, doc []byte, change func(d *certificate.Document)) []byte {
	tb.Helper()
	var d certificate.Document
	if err := json.Unmarshal(doc, &d); err != nil {
		tb.Fatal(err)
	}
	change(&d)
	out, _ := json.Marshal(d)
	return out
}

func TestSealIsDeterministic(t *testing.T) {
	t.Parallel()
	if a, b := sealed(t), sealed(t); !bytes.Equal(a, b) {
		t.Error("sealing the same payload twice gave different bytes")
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	good := sealed(t)
	tests := []struct {
		name string
		doc  []byte
		keys map[string]ed25519.PublicKey
		want error
	}{
		{"as sealed", good, keysOf(key(1)), nil},
		{"among other keys", good, keysOf(key(2), key(1)), nil},
		{"pretty-printed again by someone", func() []byte { var b bytes.Buffer; _ = json.Indent(&b, good, "", "\t"); return b.Bytes() }(), keysOf(key(1)), nil},
		{"another key", good, keysOf(key(2)), certificate.ErrUnknownKey},
		{"readable copy edited", edit(t, good, func(d *certificate.Document) {
			d.Certificate = json.RawMessage(strings.Replace(payload, "completed", "partially-completed", 1))
		}), keysOf(key(1)), certificate.ErrMismatch},
		{"payload edited", edit(t, good, func(d *certificate.Document) { d.Payload = d.Payload[:len(d.Payload)-2] + "fQ" }), keysOf(key(1)), certificate.ErrBadSig},
		{"signature edited", edit(t, good, func(d *certificate.Document) { d.Signature = "A" + d.Signature[1:] }), keysOf(key(1)), certificate.ErrBadSig},
		{"not JSON", []byte("CERTIFICATE OF ERASE"), keysOf(key(1)), certificate.ErrMalformed},
		{"no signature", edit(t, good, func(d *certificate.Document) { d.Signature = "" }), keysOf(key(1)), certificate.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := certificate.Open(tc.doc, tc.keys)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if err == nil && string(got) != payload {
				t.Errorf("payload %s", got)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	t.Parallel()
	pub := key(1).Public().(ed25519.PublicKey)
	set, _ := json.Marshal(certificate.KeySet{Keys: []certificate.JWK{certificate.JWKOf(pub)}})
	one, _ := json.Marshal(certificate.JWKOf(pub))
	wrongKid := certificate.JWKOf(pub)
	wrongKid.Kid = "0000000000000000"
	bad, _ := json.Marshal(wrongKid)
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"JWK set", set, false},
		{"one JWK", one, false},
		{"PEM", certificate.PEMOf(pub), false},
		{"a kid that is not the key's", bad, true},
		{"garbage", []byte("hello"), true},
	}
	for _, tc := range tests {
		got, err := certificate.ParseKeys(tc.data)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if !tc.wantErr {
			if diff := cmp.Diff(keysOf(key(1)), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
		}
	}
}
