package dsr_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// tenantReads is the in-memory store counting the tenant documents read; its
// other methods (the ETag read among them) are the store's own.
type tenantReads struct {
	*inmem.Store
	docs atomic.Int64
}

func (s *tenantReads) GetTenant(ctx context.Context, id string) (*privacy.Tenant, error) {
	s.docs.Add(1)
	return s.Store.GetTenant(ctx, id)
}

// TestTaskMessagesReuseTheTenantRead (issue 16): the task messages of an
// erasure read the tenant's ETag, not its document, while the tenant does
// not change; after a change by any writer the document is read once more.
func TestTaskMessagesReuseTheTenantRead(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", verifyActions, privacy.CategoryProfile), webhook("billing", verifyActions, privacy.CategoryProfile))
	r := f.approved(t, privacy.TypeErase)
	before := f.tenants.docs.Load()
	f.drain(t)
	if got := f.tenants.docs.Load() - before; got != 0 {
		t.Errorf("%d tenant documents read for two task messages, want 0", got)
	}
	if got := f.get(t, r.ID).Status; got != privacy.StatusCompleted {
		t.Fatalf("request %s, want completed", got)
	}
	before = f.tenants.docs.Load()
	f.editTenant(t, func(tn *privacy.Tenant) { tn.Contact = "dpo@acme.example" })
	f.approved(t, privacy.TypeErase)
	f.drain(t)
	if got := f.tenants.docs.Load() - before; got != 1 {
		t.Errorf("%d tenant documents read by a submission, its approval and its two tasks after another writer changed the tenant, want 1", got)
	}
}

// TestTaskSeesWhatAnotherWriterChanged: the kept tenant never hides a change
// made behind the service's back (another process, a `privops tenant`
// command): a legal hold placed that way holds the erasure, and a service
// changed that way is called as changed.
func TestTaskSeesWhatAnotherWriterChanged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(tn *privacy.Tenant, r *privacy.Request)
		want   func(t *testing.T, f *taskFixture, r *privacy.Request, identifiers []string)
	}{{
		name: "a legal hold",
		change: func(tn *privacy.Tenant, r *privacy.Request) {
			tn.Holds = append(tn.Holds, privacy.Hold{ID: "hold_other", Scope: privacy.HoldSubject, SubjectHash: r.SubjectHash,
				Reason: "placed elsewhere", Category: privacy.HoldLegalClaims, PlacedBy: "admin:bob", PlacedAt: time.Date(2030, 1, 31, 9, 0, 0, 0, time.UTC)})
		},
		want: func(t *testing.T, f *taskFixture, r *privacy.Request, _ []string) {
			if task := r.Tasks[0]; task.Status != privacy.TaskHeld || task.HoldID != "hold_other" {
				t.Errorf("task %s held by %q, want held by hold_other", task.Status, task.HoldID)
			}
			if n := f.conn.count("crm", privacy.ActionErase); n != 0 {
				t.Errorf("the service was asked to erase %d times under a legal hold", n)
			}
		},
	}, {
		name: "a service's identifiers",
		change: func(tn *privacy.Tenant, _ *privacy.Request) {
			tn.Services[0].Identifiers = []string{"phone"}
		},
		want: func(t *testing.T, f *taskFixture, r *privacy.Request, identifiers []string) {
			if diff := cmp.Diff([]string{"phone"}, identifiers); diff != "" {
				t.Errorf("identifiers sent to the service (-want +got):\n%s", diff)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t)
			f.setGrace(t, "acme", 0)
			f.addServices(t, webhook("crm", verifyActions, privacy.CategoryProfile))
			var identifiers []string
			f.conn.on("crm", privacy.ActionErase, step{res: done.res, during: func(call privacy.ConnectorCall) {
				for k := range call.Identifiers {
					identifiers = append(identifiers, k)
				}
				slices.Sort(identifiers)
			}})
			r := f.approved(t, privacy.TypeErase) // the approval kept the tenant
			f.editTenant(t, func(tn *privacy.Tenant) { tc.change(tn, r) })
			f.drain(t)
			tc.want(t, f, f.get(t, r.ID), identifiers)
		})
	}
}
