package webhook_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// now is the fixed clock of the tests: month-end, where deadline bugs live.
var now = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

var (
	secretOld = []byte("0123456789abcdef0123456789abcdef")
	secretNew = []byte("fedcba9876543210fedcba9876543210")
)

// errorCode returns the code of the *privacy.Error in err's chain, "" for nil.
func errorCode(tb testing.TB, err error) string {
	tb.Helper()
	if err == nil {
		return ""
	}
	e, ok := privacy.AsError(err)
	if !ok {
		return "<not a privacy.Error>"
	}
	return e.Code
}

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// Computed independently:
	//   printf '1900000000.{"taskId":"t1"}' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
	got := webhook.Sign(time.Unix(1900000000, 0), []byte(`{"taskId":"t1"}`), secretOld)
	want := "t=1900000000,v1=b864ecc261c227bcaa8a3ca43347bc832ec649380cb6f652560927c598efe895"
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestSignOneEntryPerSecret(t *testing.T) {
	t.Parallel()
	h := webhook.Sign(now, []byte("{}"), secretNew, secretOld, nil)
	if got := strings.Count(h, ",v1="); got != 2 {
		t.Errorf("Sign(2 secrets and an empty one) = %q: %d v1 entries, want 2", h, got)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"taskId":"t1","identifiers":{"email":"ada@example.com"}}`)
	signedBoth := webhook.Sign(now, body, secretNew, secretOld)
	sig := func(secret []byte) string { // the v1 entry of one secret
		_, v1, _ := strings.Cut(webhook.Sign(now, body, secret), ",")
		return v1
	}
	tests := []struct {
		name    string
		header  string
		body    []byte
		at      time.Time
		secrets [][]byte
		want    error
	}{
		{"round trip", webhook.Sign(now, body, secretOld), body, now, [][]byte{secretOld}, nil},
		{"two entries, old secret", signedBoth, body, now, [][]byte{secretOld}, nil},
		{"two entries, new secret", signedBoth, body, now, [][]byte{secretNew}, nil},
		{"one entry, either active secret", webhook.Sign(now, body, secretOld), body, now, [][]byte{secretNew, secretOld}, nil},
		{"4m59s old", signedBoth, body, now.Add(4*time.Minute + 59*time.Second), [][]byte{secretOld}, nil},
		{"exactly the window", signedBoth, body, now.Add(5 * time.Minute), [][]byte{secretOld}, nil},
		{"unknown entries ignored", "v0=zz," + signedBoth + ",v3=abc", body, now, [][]byte{secretOld}, nil},
		{"spaces after commas", strings.ReplaceAll(signedBoth, ",", ", "), body, now, [][]byte{secretOld}, nil},
		{"stale", signedBoth, body, now.Add(5*time.Minute + time.Second), [][]byte{secretOld}, webhook.ErrStaleSignature},
		{"from the future", signedBoth, body, now.Add(-6 * time.Minute), [][]byte{secretOld}, webhook.ErrStaleSignature},
		{"tampered body", signedBoth, bytes.Replace(body, []byte("ada"), []byte("eve"), 1), now, [][]byte{secretOld}, webhook.ErrBadSignature},
		{"other secret", webhook.Sign(now, body, secretOld), body, now, [][]byte{secretNew}, webhook.ErrBadSignature},
		{"no secrets", signedBoth, body, now, nil, webhook.ErrBadSignature},
		{"empty secret never matches", webhook.Sign(now, body, []byte{}) + ",v1=" + strings.Repeat("0", 64), body, now, [][]byte{{}}, webhook.ErrBadSignature},
		{"timestamp changed", strings.Replace(signedBoth, fmt.Sprint(now.Unix()), fmt.Sprint(now.Unix()+1), 1), body, now, [][]byte{secretOld}, webhook.ErrBadSignature},
		{"missing", "", body, now, [][]byte{secretOld}, webhook.ErrMissingSignature},
		{"garbage", "garbage", body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"no timestamp", sig(secretOld), body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"no v1", "t=1895882400", body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"two timestamps", "t=1895882400," + signedBoth, body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"signed timestamp", "t=+1895882400," + sig(secretOld), body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"negative timestamp", "t=-1," + sig(secretOld), body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"timestamp too long", "t=" + strings.Repeat("9", 20) + "," + sig(secretOld), body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"v1 not hex", "t=1895882400,v1=" + strings.Repeat("z", 64), body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"v1 too short", "t=1895882400,v1=" + strings.Repeat("0", 62), body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"empty entry", signedBoth + ",", body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"entry without =", signedBoth + ",v1", body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
		{"header too long", signedBoth + strings.Repeat(","+sig(secretNew), 200), body, now, [][]byte{secretOld}, webhook.ErrMalformedSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := webhook.Verify(tc.header, tc.body, tc.at, 0, tc.secrets...)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "ada@example.com") {
				t.Errorf("Verify error %q contains the subject's email", err)
			}
		})
	}
}

func TestVerifyErrorsAreUnauthorizedProblems(t *testing.T) {
	t.Parallel()
	want := map[string]string{"missing": "missing-signature", "garbage": "malformed-signature", "stale": "stale-signature", "bad": "bad-signature"}
	body := []byte("{}")
	got := map[string]string{
		"missing": errorCode(t, webhook.Verify("", body, now, 0, secretOld)),
		"garbage": errorCode(t, webhook.Verify("x", body, now, 0, secretOld)),
		"stale":   errorCode(t, webhook.Verify(webhook.Sign(now, body, secretOld), body, now.Add(time.Hour), 0, secretOld)),
		"bad":     errorCode(t, webhook.Verify(webhook.Sign(now, body, secretOld), body, now, 0, secretNew)),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
	for _, err := range []error{webhook.ErrMissingSignature, webhook.ErrMalformedSignature, webhook.ErrStaleSignature, webhook.ErrBadSignature} {
		if e, _ := privacy.AsError(err); e.Kind != privacy.KindUnauthorized {
			t.Errorf("%v: kind %d, want KindUnauthorized", err, e.Kind)
		}
	}
}

func TestVerifyCustomWindow(t *testing.T) {
	t.Parallel()
	body := []byte("{}")
	h := webhook.Sign(now, body, secretOld)
	if err := webhook.Verify(h, body, now.Add(time.Minute), 30*time.Second, secretOld); !errors.Is(err, webhook.ErrStaleSignature) {
		t.Errorf("Verify 1m late with a 30s window = %v, want ErrStaleSignature", err)
	}
	if err := webhook.Verify(h, body, now.Add(9*time.Minute), 10*time.Minute, secretOld); err != nil {
		t.Errorf("Verify 9m late with a 10m window = %v, want nil", err)
	}
}

func TestVerifyStream(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte(`{"id":1},`), 100_000)
	h := webhook.Sign(now, body, secretNew, secretOld)
	tests := []struct {
		name    string
		header  string
		body    []byte
		at      time.Time
		want    error
		wantDst int // bytes copied to dst
	}{
		{"valid", h, body, now, nil, len(body)},
		{"tampered: copied, then refused", h, append([]byte("x"), body[1:]...), now, webhook.ErrBadSignature, len(body)},
		{"stale: nothing read", h, body, now.Add(time.Hour), webhook.ErrStaleSignature, 0},
		{"malformed: nothing read", "t=1", body, now, webhook.ErrMalformedSignature, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var dst bytes.Buffer
			n, err := webhook.VerifyStream(tc.header, bytes.NewReader(tc.body), &dst, tc.at, 0, secretOld)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("VerifyStream error = %v, want %v", err, tc.want)
			}
			if n != int64(tc.wantDst) || dst.Len() != tc.wantDst {
				t.Errorf("VerifyStream copied n=%d, dst %d bytes; want %d", n, dst.Len(), tc.wantDst)
			}
			if tc.wantDst > 0 && !bytes.Equal(dst.Bytes(), tc.body) {
				t.Error("dst differs from the body")
			}
		})
	}
}

func TestVerifyStreamReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := webhook.VerifyStream(webhook.Sign(now, nil, secretOld), errReader{boom}, &bytes.Buffer{}, now, 0, secretOld)
	if !errors.Is(err, boom) || errors.Is(err, webhook.ErrBadSignature) {
		t.Errorf("VerifyStream over a failing reader = %v, want it to wrap the read error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestSecrets(t *testing.T) {
	t.Parallel()
	b64 := base64.StdEncoding.EncodeToString
	day := 24 * time.Hour
	tests := []struct {
		name    string
		secrets []privacy.ServiceSecret
		want    [][]byte
		wantErr bool
	}{
		{
			name: "newest first",
			secrets: []privacy.ServiceSecret{
				{ID: "k1", Value: b64(secretOld), CreatedAt: now.Add(-30 * day)},
				{ID: "k2", Value: b64(secretNew), CreatedAt: now},
			},
			want: [][]byte{secretNew, secretOld},
		},
		{name: "one", secrets: []privacy.ServiceSecret{{ID: "k1", Value: b64(secretOld)}}, want: [][]byte{secretOld}},
		{name: "none", wantErr: true},
		{name: "not base64", secrets: []privacy.ServiceSecret{{ID: "k1", Value: "not base64 at all!"}}, wantErr: true},
		{name: "url-safe base64 is not standard", secrets: []privacy.ServiceSecret{{ID: "k1", Value: base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))}}, wantErr: true},
		{name: "too short", secrets: []privacy.ServiceSecret{{ID: "k1", Value: b64([]byte("short-secret-16b"))}}, wantErr: true},
		{name: "empty", secrets: []privacy.ServiceSecret{{ID: "k1", Value: ""}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := webhook.Secrets(&privacy.Service{ID: "crm", Secrets: tc.secrets})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Secrets error = %v, want error: %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Secrets (-want +got):\n%s", diff)
			}
			for _, s := range tc.secrets {
				if err != nil && s.Value != "" && strings.Contains(err.Error(), s.Value) {
					t.Errorf("Secrets error %q contains the secret", err)
				}
			}
		})
	}
	if _, err := webhook.Secrets(nil); err == nil {
		t.Error("Secrets(nil) error = nil, want one")
	}
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"taskId":"t1"}`)
	f.Add(webhook.Sign(now, body, secretOld), body, int64(0))
	f.Add(webhook.Sign(now, body, secretOld, secretNew), body, int64(30))
	f.Add("t=1895882400,v1=", []byte{}, int64(-400))
	f.Add("t=,v1=,v1=,,", []byte("x"), int64(1<<62))
	f.Add("t=99999999999999999999,v1=00", []byte(nil), int64(0))
	f.Fuzz(func(t *testing.T, header string, body []byte, skew int64) {
		at := now.Add(time.Duration(skew) * time.Second)
		err := webhook.Verify(header, body, at, 0, secretOld, secretNew)
		switch {
		case err == nil:
			// Accepting means the header really carries a signature of this
			// body by one of the secrets.
			if webhook.Verify(header, body, at, 0, []byte("another secret of 32 bytes......")) == nil {
				t.Fatalf("Verify(%q) accepted a body for an unrelated secret", header)
			}
		case errors.Is(err, webhook.ErrMissingSignature), errors.Is(err, webhook.ErrMalformedSignature),
			errors.Is(err, webhook.ErrStaleSignature), errors.Is(err, webhook.ErrBadSignature):
		default:
			t.Fatalf("Verify(%q) = %v, not a signature error", header, err)
		}
		// Whatever the body and time (after 1970), a fresh signature verifies.
		if at.Unix() < 0 {
			return
		}
		if err := webhook.Verify(webhook.Sign(at, body, secretNew), body, at, 0, secretOld, secretNew); err != nil {
			t.Fatalf("round trip at %v: %v", at, err)
		}
	})
}
