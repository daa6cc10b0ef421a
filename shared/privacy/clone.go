package privacy

import (
	"bytes"
	"maps"
	"slices"
)

// Clone returns a deep copy of r that shares no memory with it: a change of
// one is never seen in the other. The request write combining of the
// lifecycle (shared/dsr) hands every caller its own copy of a committed
// request; copying field by field costs a fraction of a JSON round trip.
// TestCloneSharesNothing fails when a field is added that Clone would share.
func (r *Request) Clone() *Request {
	c := *r
	c.Categories = slices.Clone(r.Categories)
	c.Changes = slices.Clone(r.Changes)
	c.Purposes = slices.Clone(r.Purposes)
	c.Pauses = slices.Clone(r.Pauses)
	c.Extension = clonePtr(r.Extension)
	c.Decision = clonePtr(r.Decision)
	c.Tasks = slices.Clone(r.Tasks)
	c.Package = clonePtr(r.Package)
	c.Notices = slices.Clone(r.Notices)
	c.AdminOps = slices.Clone(r.AdminOps)
	if r.Outbox != nil {
		c.Outbox = make([]OutboxEvent, len(r.Outbox))
		for i, ev := range r.Outbox {
			if ev.Audit != nil {
				a := *ev.Audit
				a.Details = maps.Clone(a.Details)
				ev.Audit = &a
			}
			if ev.Message != nil {
				m := *ev.Message
				m.Data = bytes.Clone(m.Data)
				ev.Message = &m
			}
			c.Outbox[i] = ev
		}
	}
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
