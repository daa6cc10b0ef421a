package dsr_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// TestAdminChangesWithAnIdempotencyKey (issue 15, item 15): an admin change
// whose answer was lost can be sent again with the same Idempotency-Key and
// gets the first answer, not a conflict, and changes nothing more; the same
// key with another change is refused; without a key the repeat is what it
// always was.
func TestAdminChangesWithAnIdempotencyKey(t *testing.T) {
	t.Parallel()
	alice := dsr.Actor{Admin: admin}
	reason := func(variant bool) string {
		if variant {
			return "another reason"
		}
		return "manifestly unfounded"
	}
	type act func(ctx context.Context, f *taskFixture, r *privacy.Request, variant bool) (string, error)
	requestAnswer := func(r *privacy.Request, err error) (string, error) {
		if err != nil {
			return "", err
		}
		return string(r.Status), nil
	}
	cases := []struct {
		name      string
		setup     func(t *testing.T, f *taskFixture) *privacy.Request
		act       act
		wantNoKey string // the code of a plain repeat
	}{
		{"approve", awaiting, func(ctx context.Context, f *taskFixture, r *privacy.Request, v bool) (string, error) {
			if v {
				return requestAnswer(f.svc.Deny(ctx, "acme", r.ID, alice, "x"))
			}
			return requestAnswer(f.svc.Approve(ctx, "acme", r.ID, alice))
		}, "invalid-transition"},
		{"deny", awaiting, func(ctx context.Context, f *taskFixture, r *privacy.Request, v bool) (string, error) {
			return requestAnswer(f.svc.Deny(ctx, "acme", r.ID, alice, reason(v)))
		}, "invalid-transition"},
		{"cancel", awaiting, func(ctx context.Context, f *taskFixture, r *privacy.Request, v bool) (string, error) {
			return requestAnswer(f.svc.Cancel(ctx, "acme", r.ID, alice, reason(v)))
		}, "invalid-transition"},
		{"extend", awaiting, func(ctx context.Context, f *taskFixture, r *privacy.Request, v bool) (string, error) {
			return requestAnswer(f.svc.Extend(ctx, "acme", r.ID, alice, reason(v)))
		}, "already-extended"},
		{"pause", awaiting, func(ctx context.Context, f *taskFixture, r *privacy.Request, v bool) (string, error) {
			return requestAnswer(f.svc.Pause(ctx, "acme", r.ID, alice, reason(v)))
		}, "already-paused"},
		{"retry", failedErasure, func(ctx context.Context, f *taskFixture, r *privacy.Request, v bool) (string, error) {
			task := r.Tasks[0].ID
			if v {
				task = ""
			}
			return requestAnswer(f.svc.RetryTasks(ctx, "acme", r.ID, task, alice))
		}, "nothing-to-retry"},
		{"complete a manual task", manualErasure, func(ctx context.Context, f *taskFixture, r *privacy.Request, v bool) (string, error) {
			task, err := f.svc.CompleteManual(ctx, "acme", r.ID, r.Tasks[0].ID, dsr.Result{Outcome: privacy.OutcomeDone, Note: reason(v)}, []byte("photo"), alice)
			if err != nil {
				return "", err
			}
			return string(task.Status) + " " + task.Evidence, nil
		}, "task-ended"},
		{"place a hold", awaiting, func(ctx context.Context, f *taskFixture, _ *privacy.Request, v bool) (string, error) {
			h, err := f.svc.PlaceHold(ctx, "acme", dsr.HoldInput{Scope: privacy.HoldTenant, Reason: reason(v), Category: privacy.HoldLegalClaims}, alice)
			if err != nil {
				return "", err
			}
			return h.ID, nil
		}, ""}, // without a key a repeat places a second hold
		{"release a hold", withHold, func(ctx context.Context, f *taskFixture, _ *privacy.Request, v bool) (string, error) {
			tn, err := f.svc.Tenant(ctx, "acme")
			if err != nil {
				return "", err
			}
			id := tn.Holds[0].ID
			if v {
				id = "hold_other"
			}
			h, err := f.svc.ReleaseHold(ctx, "acme", id, alice)
			if err != nil {
				return "", err
			}
			return h.ID + " " + h.ReleasedAt.String(), nil
		}, "hold-released"},
		{"rotate a secret", withHold, func(ctx context.Context, f *taskFixture, _ *privacy.Request, v bool) (string, error) {
			id := "crm"
			if v {
				id = "billing"
			}
			svc, err := f.svc.RotateSecret(ctx, "acme", id, alice)
			if err != nil {
				return "", err
			}
			return svc.Secrets[len(svc.Secrets)-1].ID, nil
		}, ""}, // without a key a repeat rotates again
		{"delete a service", withHold, func(ctx context.Context, f *taskFixture, _ *privacy.Request, v bool) (string, error) {
			id := "billing"
			if v {
				id = "crm"
			}
			return "", f.svc.DeleteService(ctx, "acme", id, alice)
		}, "unknown-service"},
		{"make an inbound key", withHold, func(ctx context.Context, f *taskFixture, _ *privacy.Request, v bool) (string, error) {
			if v {
				return "", f.svc.DeleteInboundKey(ctx, "acme", "k-none", alice)
			}
			k, err := f.svc.CreateInboundKey(ctx, "acme", alice)
			if err != nil {
				return "", err
			}
			return k.ID + " " + k.Value, nil
		}, ""}, // without a key a repeat makes another key
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t)
			r := tc.setup(t, f)
			keyed := dsr.WithIdempotencyKey(ctx, "decision-7")
			first, err := tc.act(keyed, f, r, false)
			if err != nil {
				t.Fatalf("first call: %v", err)
			}
			after, tenant, audit := f.get(t, r.ID), mustTenant(t, f), f.countAudit(t)
			again, err := tc.act(keyed, f, r, false)
			if err != nil || again != first {
				t.Errorf("the same call with the same key: %q, %v; the first answered %q", again, err, first)
			}
			if got := f.get(t, r.ID); got.ETag != after.ETag {
				t.Error("the repeat wrote the request")
			}
			if got := mustTenant(t, f); got.ETag != tenant.ETag {
				t.Error("the repeat wrote the tenant")
			}
			if diff := cmp.Diff(audit, f.countAudit(t)); diff != "" {
				t.Errorf("the repeat was audited (-want +got):\n%s", diff)
			}
			if _, err := tc.act(keyed, f, r, true); code(err) != "idempotency-key-reused" {
				t.Errorf("another change with the same key: %v", err)
			}
			if _, err := tc.act(ctx, f, r, false); code(err) != tc.wantNoKey {
				t.Errorf("a repeat without a key: %v, want %q", err, tc.wantNoKey)
			}
		})
	}
}

func awaiting(t *testing.T, f *taskFixture) *privacy.Request {
	t.Helper()
	f.setGrace(t, "acme", 0)
	return f.submit(t, privacy.TypeErase)
}

func failedErasure(t *testing.T, f *taskFixture) *privacy.Request {
	t.Helper()
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	f.conn.on("crm", privacy.ActionErase, permanent)
	r := f.untilSettled(t, f.approved(t, privacy.TypeErase).ID)
	if r.Status != privacy.StatusPartiallyCompleted {
		t.Fatalf("setup: %s", r.Status)
	}
	return r
}

func manualErasure(t *testing.T, f *taskFixture) *privacy.Request {
	t.Helper()
	f.setGrace(t, "acme", 0)
	f.addServices(t, svcDef{"paper", privacy.KindManual, eraseActions, []privacy.Category{privacy.CategoryProfile}})
	f.conn.on("paper", privacy.ActionErase, accepted)
	r := f.approved(t, privacy.TypeErase)
	f.drain(t)
	return f.get(t, r.ID)
}

func withHold(t *testing.T, f *taskFixture) *privacy.Request {
	t.Helper()
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile), webhook("billing", eraseActions, privacy.CategoryBilling))
	if _, err := f.svc.PlaceHold(ctx, "acme", dsr.HoldInput{Scope: privacy.HoldTenant, Reason: "audit", Category: privacy.HoldLegalObligation}, dsr.Actor{Admin: admin}); err != nil {
		t.Fatal(err)
	}
	return awaiting(t, f)
}
