package breachsend

import (
	"context"
	"sync"
)

// recorder writes the ledger entries of every sender of the process
// together: each sender waits until its entry is durable before it takes its
// next recipient (so at most one accepted mail per sender is unrecorded at any
// moment), and the entries that arrive meanwhile share one write. It runs
// while some batch is being delivered.
type recorder struct {
	in   chan recordReq
	done chan struct{}
}

// recorders starts the recorder with the first batch in flight and stops it
// with the last.
type recorders struct {
	mu   sync.Mutex
	refs int
	cur  *recorder
}

func (rs *recorders) acquire(s *Service) *recorder {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.refs == 0 {
		rs.cur = s.recorder(context.Background())
	}
	rs.refs++
	return rs.cur
}

func (rs *recorders) release() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.refs--; rs.refs == 0 {
		rs.cur.close()
		rs.cur = nil
	}
}

type recordReq struct {
	e   LedgerEntry
	err chan error
}

func (s *Service) recorder(ctx context.Context) *recorder {
	r := &recorder{in: make(chan recordReq), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for first := range r.in {
			reqs := []recordReq{first}
		more:
			for len(reqs) < 64 {
				select {
				case q, ok := <-r.in:
					if !ok {
						break more
					}
					reqs = append(reqs, q)
				default:
					break more
				}
			}
			es := make([]LedgerEntry, len(reqs))
			for i, q := range reqs {
				es[i] = q.e
			}
			_, err := s.d.Store.Record(ctx, es...)
			for _, q := range reqs {
				q.err <- err
			}
		}
	}()
	return r
}

func (r *recorder) record(e LedgerEntry) error {
	q := recordReq{e: e, err: make(chan error, 1)}
	r.in <- q
	return <-q.err
}

func (r *recorder) close() {
	close(r.in)
	<-r.done
}
