package dsr_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/privops/privops/shared/privacy"
)

// step is one scripted answer of the fake connector.
type step struct {
	res privacy.ConnectorResult
	err error
	// during, if set, runs inside the call before it answers: a service
	// that posts its callback at once, while the task is still claimed.
	during func(call privacy.ConnectorCall)
}

var (
	done     = step{res: privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: 2}}
	noData   = step{res: privacy.ConnectorResult{Outcome: privacy.OutcomeNoData}}
	accepted = step{res: privacy.ConnectorResult{Outcome: privacy.OutcomeAccepted}}
	present  = step{res: privacy.ConnectorResult{Present: true}}
	absent   = step{res: privacy.ConnectorResult{Present: false}}
	// transient is a 503: the task is retried with backoff.
	transient = step{err: fmt.Errorf("%w: the service answered 503", privacy.ErrUnavailable)}
	// permanent is a refusal the connector does not mark as transient.
	permanent = step{err: fmt.Errorf("the service refused the call: account locked")}
)

type callKey struct {
	service string
	action  privacy.Action
}

// fakeConnector answers per (service, action) from a script: the n-th call
// gets the n-th step, the last step repeats. Unscripted calls succeed (a lookup
// finds nothing). Export answers are streamed through call.Save. It counts
// calls and never logs or keeps the identifiers it is given.
type fakeConnector struct {
	mu     sync.Mutex
	script map[callKey][]step
	pos    map[callKey]int // calls since the script was set
	calls  map[callKey]int // calls in all
}

func newFakeConnector() *fakeConnector {
	return &fakeConnector{script: map[callKey][]step{}, pos: map[callKey]int{}, calls: map[callKey]int{}}
}

// on scripts the answers of one service to one action, from its next call.
func (c *fakeConnector) on(service string, a privacy.Action, steps ...step) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.script[callKey{service, a}], c.pos[callKey{service, a}] = steps, 0
}

// count returns how often the service was called for the action.
func (c *fakeConnector) count(service string, a privacy.Action) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[callKey{service, a}]
}

// total returns every call counted, by "service/action".
func (c *fakeConnector) total() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, n := range c.calls {
		out[k.service+"/"+string(k.action)] = n
	}
	return out
}

func (c *fakeConnector) Run(ctx context.Context, svc *privacy.Service, call privacy.ConnectorCall) (privacy.ConnectorResult, error) {
	c.mu.Lock()
	k := callKey{svc.ID, call.Action}
	n := c.pos[k]
	c.pos[k]++
	c.calls[k]++
	st := done
	if call.Action == privacy.ActionLookup {
		st = absent
	}
	if steps := c.script[k]; len(steps) > 0 {
		st = steps[min(n, len(steps)-1)]
	}
	c.mu.Unlock()
	if st.during != nil {
		st.during(call)
	}
	if st.err != nil {
		return privacy.ConnectorResult{}, st.err
	}
	if call.Action == privacy.ActionExport && st.res.Outcome == privacy.OutcomeDone {
		body := fmt.Sprintf(`{"items":[{"id":"1","service":%q},{"id":"2","service":%q}]}`, svc.ID, svc.ID)
		if _, err := call.Save(ctx, strings.NewReader(body)); err != nil {
			return privacy.ConnectorResult{}, err
		}
	}
	return st.res, nil
}
