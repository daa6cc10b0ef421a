package privacy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// transition is one edge of the request life cycle.
type transition struct{ from, to privacy.Status }

// lifeCycle is the request state machine as the Status comments describe it,
// written out edge by edge rather than read from the package's map, so that a
// change to the machine has to change this specification too.
var lifeCycle = map[transition]string{
	// One-time code mailed, not yet entered.
	{privacy.StatusAwaitingVerification, privacy.StatusAwaitingDecision}: "the subject entered the mailed code",
	{privacy.StatusAwaitingVerification, privacy.StatusCancelled}:        "never verified, or withdrawn",
	{privacy.StatusAwaitingVerification, privacy.StatusDenied}:           "refused as unverifiable (the CCPA clock runs from receipt regardless of verification); no notice goes to an unconfirmed address",
	// Identity verified; an admin approves or denies.
	{privacy.StatusAwaitingDecision, privacy.StatusApproved}:  "an admin approves",
	{privacy.StatusAwaitingDecision, privacy.StatusDenied}:    "an admin refuses, with reasons (GDPR Art. 12(4))",
	{privacy.StatusAwaitingDecision, privacy.StatusCancelled}: "withdrawn by the subject or an admin",
	// Approved; fan-out to services pending.
	{privacy.StatusApproved, privacy.StatusInProgress}:         "the fan-out started the tasks",
	{privacy.StatusApproved, privacy.StatusCompleted}:          "the fan-out finished at once: every service done",
	{privacy.StatusApproved, privacy.StatusPartiallyCompleted}: "the fan-out finished at once: some services failed or held",
	{privacy.StatusApproved, privacy.StatusCancelled}:          "withdrawn before any work started",
	// Tasks running at the services.
	{privacy.StatusInProgress, privacy.StatusCompleted}:          "every service done",
	{privacy.StatusInProgress, privacy.StatusPartiallyCompleted}: "some services failed or held, each with a reason",
	{privacy.StatusInProgress, privacy.StatusCancelled}:          "an erasure withdrawn inside its grace period, before any delete ran",
	// An admin retries the failed tasks: the request reopens for another round.
	{privacy.StatusPartiallyCompleted, privacy.StatusInProgress}: "an admin retries failed tasks",
	// completed, denied and cancelled carry the outcome: nothing leaves them.
	// Nothing moves to itself, and nothing is approved without verification.
}

// outcomes are the statuses that carry the outcome of a request.
var outcomes = map[privacy.Status]bool{
	privacy.StatusCompleted:          true,
	privacy.StatusPartiallyCompleted: true,
	privacy.StatusDenied:             true,
	privacy.StatusCancelled:          true,
}

func TestStatusesAreTheDocumentedOnes(t *testing.T) {
	t.Parallel()
	want := []privacy.Status{"awaiting-verification", "awaiting-decision", "approved", "in-progress",
		"completed", "partially-completed", "denied", "cancelled"}
	if diff := cmp.Diff(want, privacy.Statuses); diff != "" {
		t.Errorf("Statuses (-want +got):\n%s", diff)
	}
}

func TestCanMove(t *testing.T) {
	t.Parallel()
	for _, from := range privacy.Statuses {
		for _, to := range privacy.Statuses {
			why, want := lifeCycle[transition{from, to}]
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				t.Parallel()
				if got := privacy.CanMove(from, to); got != want {
					t.Errorf("CanMove(%s, %s) = %t, want %t (%s)", from, to, got, want, why)
				}
			})
		}
	}
}

func TestCanMoveUnknownStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		from, to privacy.Status
	}{
		{"from unknown", "archived", privacy.StatusCancelled},
		{"to unknown", privacy.StatusAwaitingDecision, "archived"},
		{"from empty", "", privacy.StatusAwaitingVerification},
		{"to empty", privacy.StatusApproved, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if privacy.CanMove(tc.from, tc.to) {
				t.Errorf("CanMove(%q, %q) = true, want false", tc.from, tc.to)
			}
		})
	}
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status privacy.Status
		want   bool
	}{
		{privacy.StatusAwaitingVerification, false},
		{privacy.StatusAwaitingDecision, false},
		{privacy.StatusApproved, false},
		{privacy.StatusInProgress, false},
		{privacy.StatusCompleted, true},
		{privacy.StatusPartiallyCompleted, true},
		{privacy.StatusDenied, true},
		{privacy.StatusCancelled, true},
		{"archived", false}, // unknown: not an outcome
		{"", false},
	}
	for _, tc := range cases {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			if got := tc.status.Terminal(); got != tc.want {
				t.Errorf("%q.Terminal() = %t, want %t", tc.status, got, tc.want)
			}
			if tc.status.Valid() && tc.want != outcomes[tc.status] {
				t.Errorf("table disagrees with the documented outcomes for %q", tc.status)
			}
		})
	}
}

func TestRequestMove(t *testing.T) {
	t.Parallel()
	for _, from := range privacy.Statuses {
		for _, to := range privacy.Statuses {
			_, allowed := lifeCycle[transition{from, to}]
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				t.Parallel()
				r := &privacy.Request{ID: "req-1", TenantID: "acme", Status: from}
				err := r.Move(to)
				if allowed {
					if err != nil {
						t.Fatalf("Move(%s) = %v, want nil", to, err)
					}
					if r.Status != to {
						t.Errorf("status after Move = %s, want %s", r.Status, to)
					}
					return
				}
				var e *privacy.Error
				if !errors.As(err, &e) {
					t.Fatalf("Move(%s) = %v, want a *privacy.Error", to, err)
				}
				if diff := cmp.Diff(privacy.Error{Kind: privacy.KindConflict, Code: "invalid-transition"}, *e,
					cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Message" }, cmp.Ignore())); diff != "" {
					t.Errorf("Move(%s) error (-want +got):\n%s", to, diff)
				}
				if r.Status != from {
					t.Errorf("status after a refused Move = %s, want it unchanged at %s", r.Status, from)
				}
			})
		}
	}
}

func TestSupports(t *testing.T) {
	t.Parallel()
	// System-generated logs record what happened: they can be read, exported,
	// erased and objected to, never rectified or restricted.
	systemLogs := map[privacy.RequestType]string{
		privacy.TypeAccess:          "",
		privacy.TypeExport:          "",
		privacy.TypeErase:           "",
		privacy.TypeObject:          "",
		privacy.TypeRectify:         "unsupported-for-category",
		privacy.TypeRestrict:        "unsupported-for-category",
		privacy.TypeLiftRestriction: "unsupported-for-category",
	}
	type tcase struct {
		name     string
		typ      privacy.RequestType
		category privacy.Category
		wantCode string
		wantKind privacy.Kind
	}
	var cases []tcase
	for _, typ := range privacy.RequestTypes {
		code, ok := systemLogs[typ]
		if !ok {
			t.Fatalf("request type %q has no expectation for system logs", typ)
		}
		var kind privacy.Kind
		if code != "" {
			kind = privacy.KindUnprocessable
		}
		cases = append(cases, tcase{string(typ) + " of system logs", typ, privacy.CategorySystemLogs, code, kind})
		for _, c := range []privacy.Category{privacy.CategoryProfile, privacy.CategoryContent, privacy.CategoryUsage,
			privacy.CategoryBilling, privacy.CategoryMarketing} {
			cases = append(cases, tcase{string(typ) + " of " + string(c), typ, c, "", 0})
		}
		cases = append(cases,
			tcase{string(typ) + " of an unknown category", typ, "cookies", "invalid-category", privacy.KindInvalid},
			tcase{string(typ) + " of an empty category", typ, "", "invalid-category", privacy.KindInvalid})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.typ.Supports(tc.category)
			if got := errorCode(t, err); got != tc.wantCode {
				t.Fatalf("Supports(%q) code = %q, want %q (error %v)", tc.category, got, tc.wantCode, err)
			}
			if e, ok := privacy.AsError(err); ok && e.Kind != tc.wantKind {
				t.Errorf("Supports(%q) kind = %d, want %d", tc.category, e.Kind, tc.wantKind)
			}
		})
	}
}

func TestRequestTypeValid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ  privacy.RequestType
		want bool
	}{
		{"access", true}, {"export", true}, {"erase", true}, {"rectify", true},
		{"restrict", true}, {"lift-restriction", true}, {"object", true},
		{"delete", false}, {"Access", false}, {"", false},
	}
	for _, tc := range cases {
		t.Run(string(tc.typ), func(t *testing.T) {
			t.Parallel()
			if got := tc.typ.Valid(); got != tc.want {
				t.Errorf("%q.Valid() = %t, want %t", tc.typ, got, tc.want)
			}
		})
	}
}

func TestSubjectIsRedactedInLogs(t *testing.T) {
	t.Parallel()
	subject := privacy.Subject{Email: "ada@example.com", Country: "DE", Region: "BE"}
	cases := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"as a value", func(l *slog.Logger) { l.Info("submitted", "subject", subject) }},
		{"as a pointer", func(l *slog.Logger) { l.Info("submitted", "subject", &subject) }},
		{"as an attr", func(l *slog.Logger) {
			l.LogAttrs(context.Background(), slog.LevelInfo, "submitted", slog.Any("subject", subject))
		}},
		{"in a group", func(l *slog.Logger) { l.WithGroup("request").Info("submitted", "subject", subject) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tc.log(slog.New(slog.NewJSONHandler(&buf, nil)))
			out := buf.String()
			if !strings.Contains(out, `"subject":"[redacted]"`) {
				t.Errorf("log %s does not show the subject as [redacted]", out)
			}
			for _, personal := range []string{"ada@example.com", "ada", "example.com"} {
				if strings.Contains(out, personal) {
					t.Errorf("log %s contains %q", out, personal)
				}
			}
		})
	}
}

func TestAsError(t *testing.T) {
	t.Parallel()
	perr := privacy.Errorf(privacy.KindGone, "code-expired", "the code expired %d minutes ago", 3)
	cases := []struct {
		name   string
		err    error
		want   *privacy.Error
		wantOK bool
	}{
		{"direct", perr, perr, true},
		{"wrapped", fmt.Errorf("verify request r-1: %w", perr), perr, true},
		{"joined", errors.Join(errors.New("other"), perr), perr, true},
		{"sentinel", fmt.Errorf("get: %w", privacy.ErrNotFound), nil, false},
		{"nil", nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := privacy.AsError(tc.err)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("AsError = %v, %t; want %v, %t", got, ok, tc.want, tc.wantOK)
			}
		})
	}
	if got, want := perr.Error(), "code-expired: the code expired 3 minutes ago"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
