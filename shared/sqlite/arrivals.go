package sqlite

import "sync"

// arrivals signals, per queue name, that a publish to it committed in this
// process: the standalone host's polling worker waits on it beside its poll
// interval (standalone.Arrivals), so a message published here is received at
// once rather than at the next poll. Each queue's channel holds at most one
// signal: one that arrives while the worker is receiving stays until its
// next wait, so none is lost, and many publishes wake it once.
type arrivals struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (a *arrivals) of(queue string) chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch == nil {
		a.ch = map[string]chan struct{}{}
	}
	c, ok := a.ch[queue]
	if !ok {
		c = make(chan struct{}, 1)
		a.ch[queue] = c
	}
	return c
}

// signal marks that queue may have a new visible message.
func (a *arrivals) signal(queue string) {
	select {
	case a.of(queue) <- struct{}{}:
	default: // one is already waiting
	}
}

// Arrivals returns the channel that receives after a publish to queue (or a
// requeue of its dead letters) committed in this process. Publishes by
// other processes on the same file are not signalled: the poll finds them.
func (q *Queue) Arrivals(queue string) <-chan struct{} { return q.db.arrivals.of(queue) }
