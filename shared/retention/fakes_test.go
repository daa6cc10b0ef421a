package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// fakeTenants is an in-memory tenant store with ETags.
type fakeTenants struct {
	mu     sync.Mutex
	docs   map[string][]byte
	etags  map[string]int
	writes int
}

func newFakeTenants(ts ...*privacy.Tenant) *fakeTenants {
	f := &fakeTenants{docs: map[string][]byte{}, etags: map[string]int{}}
	for _, t := range ts {
		f.docs[t.ID], _ = json.Marshal(t)
		f.etags[t.ID] = 1
	}
	return f
}

func (f *fakeTenants) GetTenant(_ context.Context, id string) (*privacy.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.docs[id]
	if !ok {
		return nil, privacy.ErrNotFound
	}
	var t privacy.Tenant
	_ = json.Unmarshal(b, &t)
	t.ETag = strconv.Itoa(f.etags[id])
	return &t, nil
}

func (f *fakeTenants) UpdateTenant(_ context.Context, t *privacy.Tenant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.ETag != strconv.Itoa(f.etags[t.ID]) {
		return privacy.ErrConflict
	}
	f.docs[t.ID], _ = json.Marshal(t)
	f.etags[t.ID]++
	f.writes++
	t.ETag = strconv.Itoa(f.etags[t.ID])
	return nil
}

// change applies fn to the stored tenant as an admin's write would.
func (f *fakeTenants) change(id string, fn func(*privacy.Tenant)) {
	t, _ := f.GetTenant(context.Background(), id)
	fn(t)
	if err := f.UpdateTenant(context.Background(), t); err != nil {
		panic(err)
	}
}

// fakeItems is an in-memory data container set: tenant/container → id → doc.
type fakeItems struct {
	mu      sync.Mutex
	c       map[string]map[string][]byte
	deletes int
	failOn  string // a container whose scans fail
	// throttle makes the n-th delete call answer ErrUnavailable (1-based).
	throttle int
}

func newFakeItems() *fakeItems { return &fakeItems{c: map[string]map[string][]byte{}} }

func (f *fakeItems) put(tenant, container, id string, doc map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := tenant + "/" + container
	if f.c[k] == nil {
		f.c[k] = map[string][]byte{}
	}
	doc["id"] = id
	f.c[k][id], _ = json.Marshal(doc)
}

func (f *fakeItems) ids(tenant, container string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.c[tenant+"/"+container] {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (f *fakeItems) ScanItemsBefore(ctx context.Context, tenantID, container, path string, before time.Time, afterID string, limit int, fn func(id string, doc []byte) error) error {
	f.mu.Lock()
	if container == f.failOn {
		f.mu.Unlock()
		return errors.New("scan failed")
	}
	m := f.c[tenantID+"/"+container]
	var ids []string
	for id := range m {
		if id > afterID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	type kv struct {
		id  string
		doc []byte
	}
	var out []kv
	for _, id := range ids {
		var v map[string]any
		_ = json.Unmarshal(m[id], &v)
		s, _ := at(v, path).(string)
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !ts.Before(before) {
			continue
		}
		out = append(out, kv{id, m[id]})
		if len(out) == limit {
			break
		}
	}
	f.mu.Unlock()
	for _, x := range out {
		if err := fn(x.id, x.doc); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeItems) DeleteItemIDs(_ context.Context, tenantID, container string, ids []string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes++
	if f.deletes == f.throttle {
		return 0, fmt.Errorf("delete: %w", privacy.ErrUnavailable)
	}
	n := 0
	for _, id := range ids {
		if _, ok := f.c[tenantID+"/"+container][id]; ok {
			delete(f.c[tenantID+"/"+container], id)
			n++
		}
	}
	return n, nil
}

// clock is a settable clock; step advances it on every reading.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type crash string

// crashAt returns a Step that panics with crash(name) at the n-th time name is reached.
func crashAt(name string, n int) func(string) {
	var mu sync.Mutex
	seen := 0
	return func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if s == name {
			seen++
			if seen == n {
				panic(crash(fmt.Sprintf("%s#%d", name, n)))
			}
		}
	}
}

// MarkItemsStorageOnly implements Marker.
func (f *fakeItems) MarkItemsStorageOnly(_ context.Context, tenantID, container string, ids []string, at time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, id := range ids {
		b, ok := f.c[tenantID+"/"+container][id]
		if !ok {
			continue
		}
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		if v[StorageOnlyField] != nil {
			continue
		}
		v[StorageOnlyField] = at.UTC().Format(time.RFC3339Nano)
		f.c[tenantID+"/"+container][id], _ = json.Marshal(v)
		n++
	}
	return n, nil
}

// marked lists the ids of the items marked storage-only.
func (f *fakeItems) marked(tenant, container string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id, b := range f.c[tenant+"/"+container] {
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		if v[StorageOnlyField] != nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
