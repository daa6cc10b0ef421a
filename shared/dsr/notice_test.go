package dsr_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// A notice recorded while another write lands on the request (a task
// settling, say) is recorded once, and the outbox of the write that counted
// is the one flushed: no phantom audit entry, nothing left for the watch.
func TestNoticeRecordedUnderAConcurrentWrite(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	r := f.submit(t, privacy.TypeAccess)
	f.notices(t)
	if _, err := f.svc.Extend(ctx, "acme", r.ID, dsr.Actor{Admin: admin}, "many systems to search"); err != nil {
		t.Fatal(err)
	}
	d, err := f.queue.Receive(ctx, queueName, time.Minute)
	if err != nil || d == nil {
		t.Fatalf("no extension notice: %v", err)
	}
	ev, err := privacy.DecodeEvent(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	var data privacy.NoticeData
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.Notice != privacy.NoticeExtended {
		t.Fatalf("notice %+v, %v", data, err)
	}
	var once sync.Once
	f.setStep(func(name string) {
		if name != "notice-mailed" {
			return
		}
		once.Do(func() { // another writer gets in between the read and the write
			cur, err := f.store.GetRequest(ctx, "acme", r.ID)
			if err == nil {
				err = f.store.UpdateRequest(ctx, cur)
			}
			if err != nil {
				t.Error(err)
			}
		})
	})
	if err := f.svc.SendNotice(ctx, ev, data); err != nil {
		t.Fatal(err)
	}
	f.setStep(nil)
	got := f.get(t, r.ID)
	if len(got.Outbox) != 0 || got.Extension.NoticedAt.IsZero() || !got.Due.Extended {
		t.Errorf("outbox %d events, extension %+v, due %+v", len(got.Outbox), got.Extension, got.Due)
	}
	f.clock.Add(2 * time.Minute)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	if n := f.countAudit(t)["request.extension-noticed"]; n != 1 {
		t.Errorf("%d request.extension-noticed entries, want 1", n)
	}
}
