package dsr

import (
	"context"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Write combining for one request (issue 16, fan-out). The tasks of a request
// settle concurrently: with eight queue workers, several claims and results
// of one request arrive together. Each used to be a write of the whole
// request guarded by its ETag; all but one of a concurrent group lost the
// ETag race, re-read the request and wrote again, and every lost attempt
// still took a turn of the store's single writer (SQLite). Now the changes
// of one request made in this process meet at a gate: one caller at a time
// (the leader) applies every change queued so far to the newest document
// this process knows, and writes them all in one ETag-guarded write; the
// others get the committed document. Nothing about the stored contract
// changes: each write is still one ETag-guarded document write carrying its
// outbox, a write from another process still wins or loses on the ETag (then
// the leader re-reads and applies the changes again), and each change still
// sees the request it is applied to, as update promised before.

// gates holds the gate of every request with a write in progress in this
// process; a gate is dropped once no caller holds it. recent keeps a copy of
// the last document this process committed for the requests written lately:
// the next write of the request starts from it instead of from the copy its
// caller read, which may be older (that write would lose the ETag race and
// read the request again), and a task message can be checked against it
// without a read (peek).
type gates struct {
	mu     sync.Mutex
	m      map[string]*gate
	recent map[string]*privacy.Request // never changed once stored: copied out
	order  []string                    // keys of recent, oldest first; may repeat
}

// keepRecent bounds the committed documents kept: enough for the requests
// whose tasks the queue workers run at once.
const keepRecent = 64

// gate serialises and combines the writes of one request.
type gate struct {
	refs int // callers holding the gate; under gates.mu

	mu     sync.Mutex // held by the leader while it writes
	qmu    sync.Mutex // guards queue
	queue  []*pendingChange
	latest *privacy.Request // the last document this process committed; only the leader touches it
	fresh  bool             // latest was written or read by this gate (not a kept copy)
}

// pendingChange is one caller's change and, once written, its outcome.
type pendingChange struct {
	change func(*privacy.Request) error
	done   bool
	r      *privacy.Request // the caller's own copy of the committed document
	err    error
}

func requestKey(tenantID, id string) string { return tenantID + "\x00" + id }

func (gs *gates) acquire(key string) *gate {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.m == nil {
		gs.m = map[string]*gate{}
	}
	g := gs.m[key]
	if g == nil {
		g = &gate{}
		if c := gs.recent[key]; c != nil {
			g.latest = c.Clone()
		}
		gs.m[key] = g
	}
	g.refs++
	return g
}

func (gs *gates) release(key string, g *gate) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if g.refs--; g.refs == 0 {
		delete(gs.m, key)
	}
}

// committed records a copy of the document this process just committed.
func (gs *gates) committed(key string, doc *privacy.Request) {
	c := doc.Clone()
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.recent == nil {
		gs.recent = map[string]*privacy.Request{}
	}
	if _, ok := gs.recent[key]; !ok {
		gs.order = append(gs.order, key)
	}
	gs.recent[key] = c
	for len(gs.order) > keepRecent {
		delete(gs.recent, gs.order[0])
		gs.order = gs.order[1:]
	}
}

// peek returns a copy of the last document of the request this process
// committed, or nil. It may be older than the stored one (another process
// wrote since): use it only where a write guarded by its ETag follows.
func (gs *gates) peek(key string) *privacy.Request {
	gs.mu.Lock()
	c := gs.recent[key]
	gs.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Clone()
}

// update writes r guarded by its ETag after applying change to it. On a
// conflict it re-reads the request, re-applies change and tries again (for
// a while): change must be a pure function of the request it is given, and
// may be applied more than once, and to a newer copy than r. The changes of
// concurrent callers in this process are combined into one write (see
// above). It returns the caller's own copy of the committed request, or
// change's error (nothing of that change is written).
func (s *Service) update(ctx context.Context, r *privacy.Request, change func(*privacy.Request) error) (*privacy.Request, error) {
	key := requestKey(r.TenantID, r.ID)
	g := s.gates.acquire(key)
	defer s.gates.release(key, g)
	me := &pendingChange{change: change}
	g.qmu.Lock()
	g.queue = append(g.queue, me)
	g.qmu.Unlock()

	g.mu.Lock()
	defer g.mu.Unlock()
	if me.done { // a leader before us wrote it
		return me.r, me.err
	}
	g.qmu.Lock()
	batch := g.queue
	g.queue = nil
	g.qmu.Unlock()
	s.writeBatch(ctx, g, r, batch)
	return me.r, me.err
}

// writeBatch applies batch to the newest document (the gate's last commit,
// or a copy of r) and writes it once, re-reading and re-applying on an ETag
// conflict. It sets every change's outcome.
func (s *Service) writeBatch(ctx context.Context, g *gate, r *privacy.Request, batch []*pendingChange) {
	finish := func(doc *privacy.Request, err error) {
		for _, p := range batch {
			if p.done {
				continue
			}
			p.done = true
			if err != nil {
				p.err = err
				continue
			}
			p.r = doc.Clone()
		}
	}
	doc, fresh := g.latest, g.fresh
	g.latest, g.fresh = nil, false // until this write commits: doc is about to change
	if doc == nil {
		doc = r.Clone() // the caller's copy, perhaps older than the stored one
	}
	for attempt := 0; ; attempt++ {
		n, err := s.applyAll(ctx, doc, batch, &fresh)
		if err != nil {
			finish(nil, err)
			return
		}
		if n == 0 {
			g.latest, g.fresh = doc, fresh // every change refused, on the stored document
			return
		}
		doc.UpdatedAt = s.now()
		err = s.updateRequest(ctx, doc)
		if err == nil {
			g.latest, g.fresh = doc, true
			s.gates.committed(requestKey(doc.TenantID, doc.ID), doc)
			finish(doc, nil)
			return
		}
		// Every conflict means another write of this request committed:
		// from another process, or before this gate opened.
		if !errors.Is(err, privacy.ErrConflict) || attempt == 31 {
			finish(nil, fmt.Errorf("update %s: %w", doc, err))
			return
		}
		if attempt >= 2 {
			// Spread contending writers so they stop colliding in lockstep.
			time.Sleep(time.Duration(mathrand.Int64N(int64(attempt)*int64(time.Millisecond) + 1)))
		}
		if doc, err = s.d.Store.GetRequest(ctx, r.TenantID, r.ID); err != nil {
			finish(nil, fmt.Errorf("reload %s: %w", r, err))
			return
		}
		fresh = true
	}
}

// applyAll applies each pending change of batch to doc, in order, and
// returns how many it applied. fresh says whether doc is the stored document
// as this process last read or wrote it; a kept copy (recent) or the
// caller's may be older. A change that fails on a document that is not
// fresh decides again on the stored one: its refusal may come from the old
// copy. A change that fails on a fresh one is done with its error and takes
// nothing into the write: it may have changed doc before it returned, so doc
// is read again and the changes still pending are applied to that.
func (s *Service) applyAll(ctx context.Context, doc *privacy.Request, batch []*pendingChange, fresh *bool) (int, error) {
	for {
		n := 0
		var failed *pendingChange
		for _, p := range batch {
			if p.done {
				continue
			}
			if err := p.change(doc); err != nil {
				p.done, p.err, failed = true, err, p
				break
			}
			n++
		}
		if failed == nil {
			return n, nil
		}
		if !*fresh {
			failed.done, failed.err = false, nil
		}
		stored, err := s.d.Store.GetRequest(ctx, doc.TenantID, doc.ID)
		if err != nil {
			return 0, fmt.Errorf("reload %s: %w", doc, err)
		}
		*doc, *fresh = *stored, true
	}
}
