package retention

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/privacy"
)

// The exclusion list of a service's purge: the held subjects as salted
// hashes, checked against a reference computed outside Go.

// TestExclusionHashesMatchTheReference: the exclusion list's hashes are
// those of testdata/exclusions.json, computed outside Go from the README's
// recipe; the sender kit's helper agrees.
func TestExclusionHashesMatchTheReference(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "exclusions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Salt   []byte
		Emails []string
		Hashes []string
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ref.Hashes, ExclusionHashes(ref.Salt, ref.Emails)); diff != "" {
		t.Errorf("ExclusionHashes (-reference +got):\n%s", diff)
	}
	for _, e := range ref.Emails {
		if h := sender.ExclusionHash(ref.Salt, e); !slices.Contains(ref.Hashes, h) {
			t.Errorf("sender.ExclusionHash(%q) = %s, not in the reference", e, h)
		}
	}
}

// TestPurgeSparesHeldSubjects: with a subject hold active, both kinds of
// service are purged with an exclusion list naming the held subject by a
// salted hash (a fresh salt per command), and no email appears in a
// command's body, its properties or the logs; a subject hold without a
// sealed email still keeps the whole purge back.
func TestPurgeSparesHeldSubjects(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	_, q, s := busFixture(t, func(t *privacy.Tenant) {
		t.Holds = []privacy.Hold{
			{ID: "h1", Scope: privacy.HoldSubject, SubjectHash: "h:ada@example.com", Reason: "email:Ada@Example.com"},
			{ID: "h2", Scope: privacy.HoldSubject, SubjectHash: "h:bob@example.com", Reason: "email:bob@example.com", ReleasedAt: sweepNow.AddDate(0, 0, -1)},
		}
	})
	s.d.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wh := &fakePurger{}
	s.d.Purgers[privacy.KindWebhook] = wh
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	msgs := q.published()
	if len(msgs) != 1 || len(wh.callsMade()) != 1 {
		t.Fatalf("commands %d, webhook calls %d", len(msgs), len(wh.callsMade()))
	}
	var ev struct{ Data sender.PurgeCommand }
	if err := json.Unmarshal(msgs[0].Body, &ev); err != nil || ev.Data.Exclusions == nil {
		t.Fatalf("command %s: %v", msgs[0].Body, err)
	}
	salt, _ := base64.StdEncoding.DecodeString(ev.Data.Exclusions.Salt)
	if diff := cmp.Diff([]string{sender.ExclusionHash(salt, "ada@example.com")}, ev.Data.Exclusions.Hashes); diff != "" || len(salt) != 32 {
		t.Errorf("the Service Bus command's exclusions (-want +got):\n%s", diff)
	}
	call := wh.callsMade()[0]
	if call.Exclusions == nil || bytes.Equal(call.Exclusions.Salt, salt) ||
		!slices.Equal(call.Exclusions.Hashes, []string{sender.ExclusionHash(call.Exclusions.Salt, "ada@example.com")}) {
		t.Errorf("the webhook call's exclusions: %+v (a fresh salt per command)", call.Exclusions)
	}
	if run.Policies[1].Status != "done" || run.Policies[0].Excluded != 1 || run.Policies[1].Excluded != 1 {
		t.Errorf("reports %+v", run.Policies)
	}
	for name, text := range map[string]string{"command body": string(msgs[0].Body), "command properties": strings.Join(slices.Collect(maps.Values(msgs[0].Properties)), " "), "logs": logs.String()} {
		if strings.Contains(strings.ToLower(text), "example.com") {
			t.Errorf("an email in the %s: %s", name, text)
		}
	}

	// A hold whose email was not sealed (placed before this release).
	_, q2, s2 := busFixture(t, func(t *privacy.Tenant) {
		t.Holds = []privacy.Hold{{ID: "h1", Scope: privacy.HoldSubject, SubjectHash: "h:ada@example.com", Reason: "litigation"}}
	})
	run, err = s2.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatal(err)
	}
	for _, pr := range run.Policies {
		if pr.Status != "kept-by-hold" || !strings.Contains(pr.Reason, "place it again") {
			t.Errorf("report %+v", pr)
		}
	}
	if len(q2.published()) != 0 {
		t.Error("a command was sent under an unsealed subject hold")
	}
}
