package webhook_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// serviceOn is a webhook service with secretOld on signing version v (0: a
// stored service from before versions existed).
func serviceOn(v int) *privacy.Service {
	return &privacy.Service{ID: "crm", Kind: privacy.KindWebhook, SigningVersion: v,
		Secrets: []privacy.ServiceSecret{{ID: "k1", Value: base64.StdEncoding.EncodeToString(secretOld), CreatedAt: now}}}
}

func TestDerivedKeysKnownVector(t *testing.T) {
	t.Parallel()
	// Computed independently (Python hmac):
	//   k = HMAC-SHA256(secret, "privops-webhook/call"); HMAC-SHA256(k, '1900000000.{"taskId":"t1"}')
	at, body := time.Unix(1900000000, 0), []byte(`{"taskId":"t1"}`)
	tests := []struct {
		direction, want string
	}{
		{webhook.DirectionCall, "t=1900000000,v2=1ca7594205763d34a3179952b6438a2c26cd92d3bbb22274ab949c70c4b2f1a7"},
		{webhook.DirectionCallback, "t=1900000000,v2=771390bf15f5e98bbcc290294d559d62a256a72537032dd6da3ef8f6db5f8ddf"},
	}
	for _, tc := range tests {
		got := webhook.SignWith(at, body, webhook.Key{Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(secretOld, tc.direction)})
		if got != tc.want {
			t.Errorf("%s: SignWith = %q, want %q", tc.direction, got, tc.want)
		}
	}
}

// TestCallbackKeysPerVersion: which callback signatures each signing version
// accepts, and that on version 2 a call privops signed is no valid callback
// (on version 1 it is: the reason version 2 exists).
func TestCallbackKeysPerVersion(t *testing.T) {
	t.Parallel()
	body := []byte(`{"taskId":"t1","outcome":"done","items":1}`)
	v1 := webhook.Key{Scheme: webhook.SchemeV1, Secret: secretOld}
	v2callback := webhook.Key{Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(secretOld, webhook.DirectionCallback)}
	v2call := webhook.Key{Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(secretOld, webhook.DirectionCall)}
	v2raw := webhook.Key{Scheme: webhook.SchemeV2, Secret: secretOld}
	callOf := func(v int) string {
		keys, err := webhook.CallKeys(serviceOn(v))
		if err != nil {
			t.Fatal(err)
		}
		return webhook.SignWith(now, body, keys...)
	}
	tests := []struct {
		name    string
		version int
		header  string
		want    string // error code, "" for accepted
	}{
		{"legacy: v1 callback", 0, webhook.SignWith(now, body, v1), ""},
		{"legacy: v2 callback (migrating)", 0, webhook.SignWith(now, body, v2callback), ""},
		{"legacy: a call reflected as a callback verifies", 1, callOf(1), ""},
		{"separated: v2 callback", 2, webhook.SignWith(now, body, v2callback), ""},
		{"separated: v1 callback refused", 2, webhook.SignWith(now, body, v1), "bad-signature"},
		{"separated: a call reflected as a callback is refused", 2, callOf(2), "bad-signature"},
		{"separated: v2 with the call key refused", 2, webhook.SignWith(now, body, v2call), "bad-signature"},
		{"separated: v2 with the secret itself refused", 2, webhook.SignWith(now, body, v2raw), "bad-signature"},
		{"separated: v1 entry carrying the callback key refused", 2, webhook.SignWith(now, body, webhook.Key{Scheme: webhook.SchemeV1, Secret: v2callback.Secret}), "bad-signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys, err := webhook.CallbackKeys(serviceOn(tc.version))
			if err != nil {
				t.Fatal(err)
			}
			if got := errorCode(t, webhook.VerifyWith(tc.header, body, now, 0, keys...)); got != tc.want {
				t.Errorf("VerifyWith = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCallKeysPerVersion(t *testing.T) {
	t.Parallel()
	body := []byte(`{"taskId":"t1"}`)
	tests := []struct {
		version int
		verify  webhook.Key // what the service checks the call with
	}{
		{0, webhook.Key{Scheme: webhook.SchemeV1, Secret: secretOld}},
		{1, webhook.Key{Scheme: webhook.SchemeV1, Secret: secretOld}},
		{2, webhook.Key{Scheme: webhook.SchemeV2, Secret: webhook.DeriveKey(secretOld, webhook.DirectionCall)}},
	}
	for _, tc := range tests {
		keys, err := webhook.CallKeys(serviceOn(tc.version))
		if err != nil {
			t.Fatal(err)
		}
		h := webhook.SignWith(now, body, keys...)
		if err := webhook.VerifyWith(h, body, now, 0, tc.verify); err != nil {
			t.Errorf("version %d: call %q does not verify with the service's key: %v", tc.version, h, err)
		}
		if tc.version == 2 {
			if err := webhook.Verify(h, body, now, 0, secretOld); err == nil {
				t.Errorf("version 2: call %q verifies with the secret itself", h)
			}
		}
	}
}
