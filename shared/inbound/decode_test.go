package inbound

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/privacy"
)

func TestDecodeExample(t *testing.T) {
	t.Parallel()
	body := example(t, "dsr.requested.v1.erase.json")
	signedAt := now.Add(-time.Minute)
	got, err := Decode(context.Background(), signed(body, keyA2, signedAt), now, fakeKeys)
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{
		ID: "0b6f7a52-4a8e-4d55-9c1a-2f8f3b1c9d10", Source: "//hr.acme.example/leavers", Type: sender.TypeDSRRequested,
		Time: now, TenantID: "acme", KeyID: "k2", SignedAt: signedAt,
		Requested: &Requested{
			Type:        privacy.TypeErase,
			Subject:     privacy.Subject{Email: "ada@example.com", Country: "DE", UserID: "u-1815"},
			Details:     "Leaver; contract ended 2030-01-30.",
			ExternalRef: "HR-2030-0142",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

// TestRoundTrip sends each type with the sender kit and decodes it.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	requested := sender.DSRRequested{Type: sender.RequestRectify,
		Subject:    sender.Subject{Email: "ada@example.com", Country: "GB", Region: "ENG", UserID: "u-1815", Phone: "+447700900123"},
		Categories: []string{sender.CategoryProfile}, Changes: []sender.Change{{Field: "lastName", Value: "King"}},
		Details: "Née Byron.", ExternalRef: "HR 42"}
	completed := sender.TaskCompleted{RequestID: "dsr_1", TaskID: "dsr_1.crm.erase", Outcome: sender.OutcomeDone, Items: 3, Note: "CHG-1"}
	held := sender.TaskCompleted{RequestID: "dsr_1", TaskID: "dsr_1.billing.erase", Outcome: sender.OutcomeHeld, Reason: "tax law"}
	failed := sender.TaskFailed{RequestID: "dsr_1", TaskID: "dsr_1.crm.erase", Reason: "not supported", Permanent: true}
	tests := []struct {
		name  string
		event func() (*sender.Event, error)
		want  Message
	}{
		{"requested", func() (*sender.Event, error) { return sender.NewDSRRequested("acme", "/hr", requested) },
			Message{Source: "/hr", Type: sender.TypeDSRRequested, Requested: &Requested{Type: privacy.TypeRectify,
				Subject:    privacy.Subject{Email: "ada@example.com", Country: "GB", Region: "ENG", UserID: "u-1815", Phone: "+447700900123"},
				Categories: []privacy.Category{privacy.CategoryProfile}, Changes: []privacy.FieldChange{{Field: "lastName", Value: "King"}},
				Details: "Née Byron.", ExternalRef: "HR 42"}}},
		{"completed", func() (*sender.Event, error) { return sender.NewTaskCompleted("acme", "/crm", completed) },
			Message{Source: "/crm", Type: sender.TypeTaskCompleted, Subject: "dsr_1", TaskCompleted: &TaskCompleted{
				RequestID: "dsr_1", TaskID: "dsr_1.crm.erase", Outcome: privacy.OutcomeDone, Items: 3, Note: "CHG-1"}}},
		{"held", func() (*sender.Event, error) { return sender.NewTaskCompleted("acme", "/billing", held) },
			Message{Source: "/billing", Type: sender.TypeTaskCompleted, Subject: "dsr_1", TaskCompleted: &TaskCompleted{
				RequestID: "dsr_1", TaskID: "dsr_1.billing.erase", Outcome: privacy.OutcomeHeld, Reason: "tax law"}}},
		{"failed", func() (*sender.Event, error) { return sender.NewTaskFailed("acme", "/crm", failed) },
			Message{Source: "/crm", Type: sender.TypeTaskFailed, Subject: "dsr_1", TaskFailed: &TaskFailed{
				RequestID: "dsr_1", TaskID: "dsr_1.crm.erase", Reason: "not supported", Permanent: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := tt.event()
			if err != nil {
				t.Fatal(err)
			}
			sent, err := e.Message(keyA1, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(context.Background(), Delivery{Body: sent.Body, ContentType: sent.ContentType, Properties: sent.Properties}, now, fakeKeys)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.ID, want.Time, want.TenantID, want.KeyID, want.SignedAt = e.ID, now, "acme", "k1", now
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
			if ok, err := schemaValid(t, sent.Body); !ok {
				t.Errorf("the kit's body breaks the schema: %v", err)
			}
		})
	}
}

// TestDecodeRefuses has one or more cases per code. Every case checks that no
// message comes with the error.
func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	valid := example(t, "dsr.requested.v1.erase.json")
	about := func(tenant string) []byte {
		return edit(t, valid, func(v map[string]any) { v["tenantid"] = tenant })
	}
	withSig := func(body []byte, sig string) Delivery {
		return Delivery{Body: body, Properties: map[string]string{SignatureProperty: sig}}
	}
	goodSig := sender.Sign(keyA1, valid, now)
	_, goodMAC, _ := strings.Cut(goodSig, ",v1=")
	oversized := append(append([]byte(nil), valid...), make([]byte, MaxBodyBytes+1-len(valid))...)
	// A body of exactly MaxBodyBytes: an extension attribute pads it.
	pad := edit(t, valid, func(v map[string]any) { v["pad"] = "" })
	full := edit(t, valid, func(v map[string]any) { v["pad"] = strings.Repeat("x", MaxBodyBytes-len(pad)) })

	tests := []struct {
		name string
		d    Delivery
		opts []Option
		want Code
	}{
		{"valid, key k1", signed(valid, keyA1, now), nil, ""},
		{"valid, key k2 while rolling", signed(valid, keyA2, now), nil, ""},
		{"retired key", signed(valid, keyA0, now), nil, CodeUnknownKey},
		{"key id never registered", signed(valid, sender.Key{ID: "k9", Secret: keyA1.Secret}, now), nil, CodeUnknownKey},

		{"acme's key on a message about globex", signed(about("globex"), keyA1, now), nil, CodeTenantMismatch},
		{"acme's secret under globex's key id", signed(about("globex"), sender.Key{ID: "g1", Secret: keyA1.Secret}, now), nil, CodeBadSignature},
		{"globex's own key", signed(about("globex"), keyG1, now), nil, ""},
		{"unknown tenant", signed(about("initech"), keyA1, now), nil, CodeUnknownTenant},

		{"no properties", Delivery{Body: valid}, nil, CodeUnsigned},
		{"other properties only", Delivery{Body: valid, Properties: map[string]string{"Privops-Signature": goodSig}}, nil, CodeUnsigned},
		{"empty property", withSig(valid, ""), nil, CodeUnsigned},
		{"property not key=value", withSig(valid, "signed-by-acme"), nil, CodeBadSignature},
		{"no timestamp", withSig(valid, "k=k1,v1="+goodMAC), nil, CodeBadSignature},
		{"no key id", withSig(valid, "t=1896055200,v1="+goodMAC), nil, CodeBadSignature},
		{"no v1", withSig(valid, "t=1896055200,k=k1"), nil, CodeBadSignature},
		{"two timestamps", withSig(valid, "t=1896055200,t=1896055200,k=k1,v1="+goodMAC), nil, CodeBadSignature},
		{"two v1", withSig(valid, goodSig+",v1="+goodMAC), nil, CodeBadSignature},
		{"timestamp not digits", withSig(valid, "t=-1,k=k1,v1="+goodMAC), nil, CodeBadSignature},
		{"timestamp past int64", withSig(valid, "t=9999999999999999999,k=k1,v1="+goodMAC), nil, CodeBadSignature},
		{"key id upper case", withSig(valid, "t=1896055200,k=K1,v1="+goodMAC), nil, CodeBadSignature},
		{"v1 short", withSig(valid, "t=1896055200,k=k1,v1=abcd"), nil, CodeBadSignature},
		{"v1 not hex", withSig(valid, "t=1896055200,k=k1,v1="+strings.Repeat("z", 64)), nil, CodeBadSignature},
		{"property too long", withSig(valid, goodSig+",x="+strings.Repeat("a", 512)), nil, CodeBadSignature},
		{"unknown entries ignored, any order, spaces", withSig(valid, " v1="+goodMAC+" , v2=abc, k=k1 ,t=1896055200"), nil, ""},
		{"body changed after signing", withSig(edit(t, valid, func(v map[string]any) { dataOf(v)["type"] = "access" }), goodSig), nil, CodeBadSignature},
		{"signed with another secret", signed(valid, sender.Key{ID: "k1", Secret: keyA2.Secret}, now), nil, CodeBadSignature},

		{"signed 5 minutes ago", signed(valid, keyA1, now.Add(-5*time.Minute)), nil, ""},
		{"signed 5 minutes 1 second ago", signed(valid, keyA1, now.Add(-5*time.Minute-time.Second)), nil, CodeStale},
		{"signed a day ago", signed(valid, keyA1, now.Add(-24*time.Hour)), nil, CodeStale},
		{"signed 5 minutes ahead", signed(valid, keyA1, now.Add(5*time.Minute)), nil, ""},
		{"signed 5 minutes 1 second ahead", signed(valid, keyA1, now.Add(5*time.Minute+time.Second)), nil, CodeFuture},
		{"signed in 1970", signed(valid, keyA1, time.Unix(0, 0)), nil, CodeStale},
		{"narrower window", signed(valid, keyA1, now.Add(-2*time.Minute)), []Option{Window(time.Minute)}, CodeStale},
		{"wider window", signed(valid, keyA1, now.Add(-9*time.Minute)), []Option{Window(10 * time.Minute)}, ""},
		{"zero window is the default", signed(valid, keyA1, now.Add(-4*time.Minute)), []Option{Window(0)}, ""},

		{"one byte too large", signed(oversized, keyA1, now), nil, CodeTooLarge},
		{"too large and unsigned", Delivery{Body: oversized}, nil, CodeTooLarge},
		{"exactly the limit", signed(full, keyA1, now), nil, ""},

		{"no content type", Delivery{Body: valid, Properties: map[string]string{SignatureProperty: goodSig}}, nil, ""},
		{"application/json", withContentType(signed(valid, keyA1, now), "application/json"), nil, ""},
		{"charset in upper case", withContentType(signed(valid, keyA1, now), "Application/CloudEvents+JSON; Charset=UTF-8"), nil, ""},
		{"text/plain", withContentType(signed(valid, keyA1, now), "text/plain"), nil, CodeContentType},
		{"latin-1", withContentType(signed(valid, keyA1, now), "application/json; charset=iso-8859-1"), nil, CodeContentType},
		{"batch mode", withContentType(signed(valid, keyA1, now), "application/cloudevents-batch+json"), nil, CodeContentType},
		{"other parameter", withContentType(signed(valid, keyA1, now), "application/json; profile=x"), nil, CodeContentType},
		{"unparsable content type", withContentType(signed(valid, keyA1, now), "application/json;;"), nil, CodeContentType},

		{"not JSON", signed([]byte("erase ada"), keyA1, now), nil, CodeMalformed},
		{"empty body", signed(nil, keyA1, now), nil, CodeMalformed},
		{"JSON array", signed([]byte(`[`+string(valid)+`]`), keyA1, now), nil, CodeMalformed},
		{"two objects", signed([]byte(string(valid)+string(valid)), keyA1, now), nil, CodeMalformed},
		{"trailing garbage", signed([]byte(string(valid)+"x"), keyA1, now), nil, CodeMalformed},
		{"unclosed object", signed(valid[:len(valid)-2], keyA1, now), nil, CodeMalformed},
		{"invalid UTF-8", signed([]byte(strings.Replace(string(valid), "Leaver", "Leav\xffr", 1)), keyA1, now), nil, CodeMalformed},
		{"tenantid twice", signed([]byte(`{"tenantid":"globex",`+string(valid[1:])), keyA1, now), nil, CodeMalformed},
		{"tenantid twice, escaped", signed([]byte(`{"tenant\u0069d":"globex",`+string(valid[1:])), keyA1, now), nil, CodeMalformed},
		{"member twice in data", signed([]byte(strings.Replace(string(valid), `"type": "erase"`, `"type": "erase", "type": "access"`, 1)), keyA1, now), nil, CodeMalformed},
		{"deep nesting", signed([]byte(`{"tenantid":"acme","x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`), keyA1, now), nil, CodeMalformed},

		{"specversion 0.3", signed(edit(t, valid, func(v map[string]any) { v["specversion"] = "0.3" }), keyA1, now), nil, CodeUnsupportedSpecVersion},
		{"specversion a number", signed(edit(t, valid, func(v map[string]any) { v["specversion"] = 1.0 }), keyA1, now), nil, CodeSchema},
		{"type v2", signed(edit(t, valid, func(v map[string]any) { v["type"] = "com.privops.dsr.requested.v2" }), keyA1, now), nil, CodeUnknownType},
		{"no tenantid", signed(edit(t, valid, func(v map[string]any) { delete(v, "tenantid") }), keyA1, now), nil, CodeSchema},
		{"tenantid a number", signed(edit(t, valid, func(v map[string]any) { v["tenantid"] = 7 }), keyA1, now), nil, CodeSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := Decode(context.Background(), tt.d, now, fakeKeys, tt.opts...)
			if got := codeOf(err); got != tt.want {
				t.Errorf("Decode = %v; want code %q", err, tt.want)
			}
			if err != nil && m != nil {
				t.Errorf("Decode returned a message with its error")
			}
		})
	}
}

func withContentType(d Delivery, ct string) Delivery {
	d.ContentType = ct
	return d
}

// TestDecodeLookupErrors: a lookup that fails transiently is retried, not
// refused; a store that cannot tell whose key it is refuses the key.
func TestDecodeLookupErrors(t *testing.T) {
	t.Parallel()
	valid := example(t, "dsr.requested.v1.erase.json")
	flaky := edit(t, valid, func(v map[string]any) { v["tenantid"] = "flaky" })
	_, err := Decode(context.Background(), signed(flaky, keyA1, now), now, fakeKeys)
	var e *Error
	if errors.As(err, &e) || !errors.Is(err, privacy.ErrUnavailable) {
		t.Errorf("throttled lookup: Decode = %v; want privacy.ErrUnavailable wrapped, not an *Error", err)
	}

	ctxErr := func(ctx context.Context, _, _ string) ([]byte, error) { return nil, ctx.Err() }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Decode(ctx, signed(valid, keyA1, now), now, ctxErr); !errors.Is(err, context.Canceled) || errors.As(err, &e) {
		t.Errorf("cancelled lookup: Decode = %v; want context.Canceled wrapped", err)
	}

	perTenant := func(_ context.Context, tenantID, keyID string) ([]byte, error) {
		if tenantID == "acme" && keyID == "k1" {
			return keyA1.Secret, nil
		}
		return nil, nil // a store keyed by tenant only: no such key here
	}
	about := edit(t, valid, func(v map[string]any) { v["tenantid"] = "globex" })
	if _, err := Decode(context.Background(), signed(about, keyA1, now), now, perTenant); codeOf(err) != CodeUnknownKey {
		t.Errorf("acme's key on a message about globex, per-tenant store: Decode = %v; want unknown-key", err)
	}

	short := func(context.Context, string, string) ([]byte, error) { return []byte("short"), nil }
	if _, err := Decode(context.Background(), signed(valid, keyA1, now), now, short); err == nil || errors.As(err, &e) {
		t.Errorf("short stored secret: Decode = %v; want a configuration error, not a refusal", err)
	}
}

// TestReplayInsideWindowDecodes documents that replay protection past the
// window is the caller's: the same delivery decodes twice to the same
// message, whose (TenantID, Source, ID) the store deduplicates.
func TestReplayInsideWindowDecodes(t *testing.T) {
	t.Parallel()
	d := signed(example(t, "dsr.task.completed.v1.done.json"), keyA1, now)
	first, err := Decode(context.Background(), d, now, fakeKeys)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Decode(context.Background(), d, now.Add(4*time.Minute), fakeKeys)
	if err != nil {
		t.Fatalf("replay inside the window: %v", err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("replay decodes differently (-first +again):\n%s", diff)
	}
	if _, err := Decode(context.Background(), d, now.Add(6*time.Minute), fakeKeys); codeOf(err) != CodeStale {
		t.Errorf("replay after the window: %v; want stale", err)
	}
}

// TestSchemaErrorNamesField removes each required member and checks that the
// reason names it.
func TestSchemaErrorNamesField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		example string
		path    string
		fields  []field
	}{
		{"dsr.requested.v1.erase.json", "", envelopeFields},
		{"dsr.requested.v1.erase.json", "data", requestedFields},
		{"dsr.requested.v1.erase.json", "data.subject", requestedFields[1].fields},
		{"dsr.requested.v1.rectify.json", "data.changes.0", requestedFields[3].items.fields},
		{"dsr.task.completed.v1.done.json", "data", completedFields},
		{"dsr.task.failed.v1.json", "data", failedFields},
	}
	for _, tt := range tests {
		for _, f := range tt.fields {
			if !f.required {
				continue
			}
			t.Run(tt.example+"/"+join(tt.path, f.name), func(t *testing.T) {
				t.Parallel()
				body := edit(t, example(t, tt.example), func(v map[string]any) {
					path := []string{}
					if tt.path != "" {
						path = strings.Split(tt.path, ".")
					}
					delete(lookupObject(v, path), f.name)
				})
				_, err := decodeSigned(body)
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeSchema {
					t.Fatalf("Decode = %v; want a schema error", err)
				}
				want := strings.ReplaceAll(join(tt.path, f.name), ".0.", "[0].")
				if !strings.HasPrefix(e.Reason, want+" ") {
					t.Errorf("reason %q does not start with the field %q", e.Reason, want)
				}
			})
		}
	}
}

// canary marks personal data that must never reach an error reason.
const canary = "zcanaryz"

// TestReasonsHoldNoPersonalData fills every text field of the examples with
// the canary and checks the reasons of every refused mutant.
func TestReasonsHoldNoPersonalData(t *testing.T) {
	t.Parallel()
	marked := map[string]func(v map[string]any){
		"dsr.requested.v1.rectify.json": func(v map[string]any) {
			d := dataOf(v)
			d["subject"] = map[string]any{"email": canary + "@example.com", "country": "DE", "userId": canary, "phone": "+4915123456789"}
			d["changes"] = []any{map[string]any{"field": canary, "value": canary}}
			d["details"], d["externalRef"] = canary, canary
			v["subject"], v[canary] = canary, canary
		},
		"dsr.task.completed.v1.held.json": func(v map[string]any) {
			d := dataOf(v)
			d["reason"], d["note"], d["requestId"] = canary, canary, canary
		},
		"dsr.task.failed.v1.json": func(v map[string]any) { dataOf(v)["reason"] = canary },
	}
	for name, mark := range marked {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := edit(t, example(t, name), mark)
			refused := 0
			for desc, mutant := range mutants(t, body) {
				for _, m := range [][]byte{mutant, []byte(strings.Replace(string(mutant), canary, canary+`","`+canary+`":"`, 1))} {
					_, err := decodeSigned(m)
					if err != nil {
						refused++
					}
					if err != nil && strings.Contains(err.Error(), canary) {
						t.Errorf("%s: the error repeats the sender's text: %v", desc, err)
					}
				}
			}
			if refused < 20 {
				t.Errorf("only %d refused mutants", refused)
			}
		})
	}
}
