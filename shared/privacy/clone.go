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

// Clone returns a deep copy of t that shares no memory with it. The lifecycle
// (shared/dsr) keeps the tenants it read lately and hands every caller its
// own copy, checked against the stored ETag; copying costs a fraction of
// decoding the stored document. TestTenantCloneSharesNothing fails when a
// field is added that Clone would share.
func (t *Tenant) Clone() *Tenant {
	c := *t
	c.Regimes = slices.Clone(t.Regimes)
	c.Establishment = slices.Clone(t.Establishment)
	c.PortalOrigins = slices.Clone(t.PortalOrigins)
	if t.Services != nil {
		c.Services = make([]Service, len(t.Services))
		for i, s := range t.Services {
			s.Actions = slices.Clone(s.Actions)
			s.Categories = slices.Clone(s.Categories)
			s.Identifiers = slices.Clone(s.Identifiers)
			s.Secrets = slices.Clone(s.Secrets)
			s.IdentityPaths = maps.Clone(s.IdentityPaths)
			c.Services[i] = s
		}
	}
	c.Holds = slices.Clone(t.Holds)
	if t.RetentionPolicies != nil {
		c.RetentionPolicies = make([]RetentionPolicy, len(t.RetentionPolicies))
		for i, p := range t.RetentionPolicies {
			p.LastPreview = clonePtr(p.LastPreview)
			p.Approved = clonePtr(p.Approved)
			c.RetentionPolicies[i] = p
		}
	}
	c.Retention = bytes.Clone(t.Retention)
	c.InboundKeys = slices.Clone(t.InboundKeys)
	c.ErasureGraceDays = clonePtr(t.ErasureGraceDays)
	if t.Breach != nil {
		b := *t.Breach
		b.Contacts = slices.Clone(b.Contacts)
		b.Services = slices.Clone(b.Services)
		b.Regions = slices.Clone(b.Regions)
		c.Breach = &b
	}
	c.AdminOps = slices.Clone(t.AdminOps)
	c.Suspension = clonePtr(t.Suspension)
	if t.Offboarding != nil {
		o := *t.Offboarding
		o.Package = clonePtr(o.Package)
		if o.Blocked != nil {
			b := *o.Blocked
			b.Holds = slices.Clone(b.Holds)
			o.Blocked = &b
		}
		if o.Purge != nil {
			p := *o.Purge
			p.Found = maps.Clone(p.Found)
			p.Done = slices.Clone(p.Done)
			o.Purge = &p
		}
		c.Offboarding = &o
	}
	if t.PendingAudit != nil {
		c.PendingAudit = make([]AuditEvent, len(t.PendingAudit))
		for i, e := range t.PendingAudit {
			e.Details = maps.Clone(e.Details)
			c.PendingAudit[i] = e
		}
	}
	return &c
}
