package inbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/privacy"
)

// FuzzDecode feeds Decode arbitrary bodies, content types and signature
// properties, each body twice: with the fuzzed property, and signed with
// acme's k1 so that the fuzzer gets past the signature into the envelope and
// the data. It checks that Decode never panics; that an error is an *Error
// with a known code and a reason free of the sender's text, and never comes
// with a message; and that a message is whole: the schema accepts its body,
// the domain accepts its data, and it encodes again (with the sender kit) to
// a body that decodes to the same message.
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 20s ./shared/inbound/
func FuzzDecode(f *testing.F) {
	var bodies [][]byte
	for _, dir := range []string{"", "invalid"} {
		for _, name := range examples(f, dir) {
			bodies = append(bodies, example(f, name))
		}
	}
	bodies = append(bodies, edit(f, example(f, "dsr.requested.v1.rectify.json"), func(v map[string]any) {
		d := dataOf(v)
		d["details"], d["externalRef"] = canary, canary
		d["changes"] = []any{map[string]any{"field": canary, "value": canary}}
	}))
	for _, body := range bodies {
		f.Add(body, sender.ContentType, sender.Sign(keyA1, body, now))
		f.Add(body, "", "")
		f.Add(body, "application/json; charset=utf-8", "t=1896055200,k=k1,v1=00")
	}
	f.Add([]byte(`{"tenantid":"acme"}`), "application/cloudevents+json", "t=1896055200,k=k2,v1="+strings.Repeat("0", 64))
	f.Add([]byte(`{"a":1,"a":2}`), "text/plain", "t=,k=,v1=")

	f.Fuzz(func(t *testing.T, body []byte, contentType, sig string) {
		for _, sig := range []string{sig, sender.Sign(keyA1, body, now)} {
			d := Delivery{Body: body, ContentType: contentType, Properties: map[string]string{SignatureProperty: sig}}
			m, err := Decode(context.Background(), d, now, fuzzKeys)
			if err != nil {
				checkRefusal(t, body, m, err)
				continue
			}
			checkWhole(t, body, m)
		}
	})
}

// fuzzKeys is fakeKeys without the flaky tenant: every error is a refusal.
func fuzzKeys(ctx context.Context, tenantID, keyID string) ([]byte, error) {
	if tenantID == "flaky" {
		return nil, privacy.ErrNotFound
	}
	return fakeKeys(ctx, tenantID, keyID)
}

func checkRefusal(t *testing.T, body []byte, m *Message, err error) {
	t.Helper()
	var e *Error
	switch {
	case m != nil:
		t.Fatalf("Decode returned a message with the error %v", err)
	case !errors.As(err, &e):
		t.Fatalf("Decode error %v is not an *Error", err)
	case !slices.Contains(Codes, e.Code) || e.Reason == "":
		t.Fatalf("Decode error %#v: unknown code or no reason", e)
	case bytes.Contains(body, []byte(canary)) && strings.Contains(e.Error(), canary):
		t.Fatalf("Decode error %v repeats the sender's text", e)
	}
}

func checkWhole(t *testing.T, body []byte, m *Message) {
	t.Helper()
	n := 0
	for _, set := range []bool{m.Requested != nil, m.TaskCompleted != nil, m.TaskFailed != nil, m.BreachReported != nil, m.PurgeCompleted != nil} {
		if set {
			n++
		}
	}
	if n != 1 || !slices.Contains(sender.Types, m.Type) || m.TenantID == "" || m.KeyID == "" {
		t.Fatalf("partial message: %+v", m)
	}
	if ok, err := schemaValid(t, body); !ok {
		t.Fatalf("Decode accepts a body the schema refuses: %v\n%s", err, body)
	}
	checkDomain(t, m)

	again := reencode(t, m)
	if ok, err := schemaValid(t, again); !ok {
		t.Fatalf("the re-encoded body breaks the schema: %v\n%s", err, again)
	}
	m2, err := Decode(context.Background(), signed(again, keyA1, m.SignedAt), m.SignedAt, fuzzKeys)
	if err != nil {
		t.Fatalf("the re-encoded body is refused: %v\n%s", err, again)
	}
	if diff := cmp.Diff(m, m2); diff != "" {
		t.Fatalf("re-encoded message differs (-first +again):\n%s", diff)
	}
}

// reencode writes m again with the sender kit.
func reencode(t *testing.T, m *Message) []byte {
	t.Helper()
	var data any
	switch {
	case m.Requested != nil:
		data = m.Requested
	case m.TaskCompleted != nil:
		data = m.TaskCompleted
	case m.BreachReported != nil:
		data = m.BreachReported
	case m.PurgeCompleted != nil:
		data = m.PurgeCompleted
	default:
		data = m.TaskFailed
	}
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	e := &sender.Event{SpecVersion: sender.SpecVersion, ID: m.ID, Source: m.Source, Type: m.Type, Time: m.Time,
		Subject: m.Subject, DataContentType: sender.DataContentType, TenantID: m.TenantID, Data: b}
	out, err := e.Message(keyA1, m.SignedAt)
	if err != nil {
		t.Fatalf("the sender kit refuses a decoded message: %v", err)
	}
	return out.Body
}

// FuzzFieldAgreement sets one string member of a valid example to a fuzzed
// value and checks that Decode and the schema give the same verdict. The one
// divergence allowed is by design: privops counts bytes where the schema
// counts characters, so a value within maxLength characters but over it in
// bytes is refused by Decode alone.
//
//	go test -run '^$' -fuzz FuzzFieldAgreement -fuzztime 20s ./shared/inbound/
func FuzzFieldAgreement(f *testing.F) {
	sites := stringSites(f)
	for i, s := range sites {
		f.Add(uint16(i), s.value)
		f.Add(uint16(i), s.value+"é")
		f.Add(uint16(i), strings.ToUpper(s.value))
	}
	f.Fuzz(func(t *testing.T, i uint16, value string) {
		s := sites[int(i)%len(sites)]
		// JSON carries text: json.Marshal turns each invalid byte into
		// U+FFFD, as this does, and the lengths below are of that text.
		value = string([]rune(value))
		body := edit(t, s.body, func(v map[string]any) { lookupObject(v, s.parent)[s.name] = value })
		schemaOK, schemaErr := schemaValid(t, body)
		_, err := decodeSigned(body)
		switch {
		case err == nil && !schemaOK:
			t.Fatalf("%s = %q: Decode accepts what the schema refuses: %v", s, value, schemaErr)
		case err != nil && schemaOK && !(codeOf(err) == CodeSchema && len(value) > utf8.RuneCountInString(value)):
			t.Fatalf("%s = %q: the schema accepts what Decode refuses: %v", s, value, err)
		}
	})
}

// site is one string member of a valid example.
type site struct {
	body   []byte
	parent []string
	name   string
	value  string
}

func (s site) String() string { return strings.Join(append(slices.Clone(s.parent), s.name), ".") }

// stringSites lists the string members of the valid examples, but tenantid
// (another tenant's message is refused by design).
func stringSites(tb testing.TB) []site {
	var out []site
	for _, name := range examples(tb, "") {
		body := example(tb, name)
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			tb.Fatal(err)
		}
		var walk func(path []string, v any)
		walk = func(path []string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for _, k := range slices.Sorted(maps.Keys(v)) {
					if s, ok := v[k].(string); ok && k != "tenantid" {
						out = append(out, site{body, path, k, s})
					}
					walk(slices.Concat(path, []string{k}), v[k])
				}
			case []any:
				for i, x := range v {
					walk(slices.Concat(path, []string{strconv.Itoa(i)}), x)
				}
			}
		}
		walk(nil, doc)
	}
	return out
}
