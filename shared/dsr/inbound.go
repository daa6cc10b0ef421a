package dsr

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// This file holds what the inbound queue (messages from tenants' own systems)
// needs of the lifecycle: the tenant's signing keys, the record of each
// message, and failing a task on a service's report.

// MaxInboundKeys is how many signing keys a tenant has active at once.
const MaxInboundKeys = 2

// CreateInboundKey adds a signing key for the tenant's systems and returns it
// with its secret, shown this once. The newest previous key stays active so
// senders can switch over; an older one is retired.
func (s *Service) CreateInboundKey(ctx context.Context, tenantID string, actor Actor) (*privacy.ServiceSecret, error) {
	k, err := s.idem(ctx, tenantID, actor, "inbound-key.created")
	if err != nil {
		return nil, err
	}
	var out privacy.ServiceSecret
	var first *privacy.IdempotentOp
	_, err = s.changeTenant(ctx, tenantID, actor, "inbound-key.created", "tenant/"+tenantID, func(t *privacy.Tenant, now time.Time) error {
		if rec, err := k.check(t.AdminOps); err != nil {
			first = rec
			return err
		}
		var b [32]byte
		_, _ = rand.Read(b[:])
		var id [6]byte
		_, _ = rand.Read(id[:])
		out = privacy.ServiceSecret{ID: "k-" + hex.EncodeToString(id[:]), Value: base64.StdEncoding.EncodeToString(b[:]), CreatedAt: now}
		keep := t.InboundKeys
		if len(keep) >= MaxInboundKeys {
			keep = keep[len(keep)-(MaxInboundKeys-1):]
		}
		t.InboundKeys = append(slices.Clone(keep), out)
		k.record(&t.AdminOps, out.ID, now)
		return nil
	})
	if errors.Is(err, errReplay) {
		// A key made with this Idempotency-Key: the first answer, its secret
		// included, while the key is still active.
		t, err := s.tenant(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(t.InboundKeys, func(k privacy.ServiceSecret) bool { return k.ID == first.Ref }); i >= 0 {
			return &t.InboundKeys[i], nil
		}
		return nil, privacy.Errorf(privacy.KindConflict, "key-retired", "the key made with this Idempotency-Key was retired since")
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// InboundKeys lists the tenant's active signing keys without their secrets.
func (s *Service) InboundKeys(ctx context.Context, tenantID string) ([]privacy.ServiceSecret, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]privacy.ServiceSecret, 0, len(t.InboundKeys))
	for _, k := range t.InboundKeys {
		out = append(out, privacy.ServiceSecret{ID: k.ID, CreatedAt: k.CreatedAt})
	}
	return out, nil
}

// DeleteInboundKey retires a signing key at once (a leaked key).
func (s *Service) DeleteInboundKey(ctx context.Context, tenantID, keyID string, actor Actor) error {
	k, err := s.idem(ctx, tenantID, actor, "inbound-key.retired", keyID)
	if err != nil {
		return err
	}
	_, err = s.changeTenant(ctx, tenantID, actor, "inbound-key.retired", "tenant/"+tenantID, func(t *privacy.Tenant, now time.Time) error {
		if _, err := k.check(t.AdminOps); err != nil {
			return err
		}
		i := slices.IndexFunc(t.InboundKeys, func(k privacy.ServiceSecret) bool { return k.ID == keyID })
		if i < 0 {
			return privacy.Errorf(privacy.KindNotFound, "unknown-key", "no such key")
		}
		t.InboundKeys = slices.Delete(t.InboundKeys, i, i+1)
		k.record(&t.AdminOps, keyID, now)
		return nil
	})
	if errors.Is(err, errReplay) {
		return nil // retired with this key: the first answer
	}
	return err
}

// ErrNoSuchKey: the tenant exists but has no active key with the id.
var ErrNoSuchKey = errors.New("no such signing key")

// InboundSecret returns the secret of the tenant's active key keyID: what the
// inbound decoder checks a signature with. ErrNotFound (wrapped) if the tenant
// does not exist, ErrNoSuchKey if the key does not; other errors are transient.
func (s *Service) InboundSecret(ctx context.Context, tenantID, keyID string) ([]byte, error) {
	t, err := s.d.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	for _, k := range t.InboundKeys {
		if k.ID == keyID {
			v, err := base64.StdEncoding.DecodeString(k.Value)
			if err != nil {
				return nil, fmt.Errorf("signing key %s of tenant %s is not base64", keyID, tenantID)
			}
			return v, nil
		}
	}
	return nil, ErrNoSuchKey
}

// inboundLog returns the store's inbound log, or an error if the store has none.
func (s *Service) inboundLog() (privacy.InboundLog, error) {
	if s.d.Inbound == nil {
		return nil, errors.New("inbound: this deployment's store keeps no inbound records")
	}
	return s.d.Inbound, nil
}

// InboundRecord reads one record. ErrNotFound if absent.
func (s *Service) InboundRecord(ctx context.Context, tenantID, id string) (*privacy.InboundRecord, error) {
	l, err := s.inboundLog()
	if err != nil {
		return nil, err
	}
	return l.GetInbound(ctx, tenantID, id)
}

// RecordInbound stores a record; one with the same id already there is kept
// (a redelivery), and reported as (false, nil).
func (s *Service) RecordInbound(ctx context.Context, r *privacy.InboundRecord) (bool, error) {
	l, err := s.inboundLog()
	if err != nil {
		return false, err
	}
	err = l.CreateInbound(ctx, r)
	if errors.Is(err, privacy.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record inbound message: %w", err)
	}
	return true, nil
}

// MarkReplayed sets a rejected record to replayed and drops its body.
func (s *Service) MarkReplayed(ctx context.Context, r *privacy.InboundRecord) error {
	l, err := s.inboundLog()
	if err != nil {
		return err
	}
	r.Status, r.Body, r.Properties = privacy.InboundReplayed, nil, nil
	if err := l.UpdateInbound(ctx, r); err != nil {
		return fmt.Errorf("mark inbound record replayed: %w", err)
	}
	return nil
}

// ListInbound pages through the tenant's inbound records (admin API). The
// bodies of rejected messages are never returned: they may hold personal data.
func (s *Service) ListInbound(ctx context.Context, tenantID string, f privacy.InboundFilter) (privacy.InboundPage, error) {
	l, err := s.inboundLog()
	if err != nil {
		return privacy.InboundPage{}, err
	}
	if f.Status != "" && f.Status != privacy.InboundAccepted && f.Status != privacy.InboundRejected && f.Status != privacy.InboundReplayed {
		return privacy.InboundPage{}, privacy.Errorf(privacy.KindInvalid, "invalid-status", "status must be accepted, rejected or replayed")
	}
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	page, err := l.ListInbound(ctx, tenantID, f)
	if err != nil {
		return privacy.InboundPage{}, err
	}
	for _, r := range page.Records {
		r.Body, r.Properties = nil, nil
	}
	return page, nil
}

// ListRejected pages through rejected records with their bodies, for the
// operator's replay command only.
func (s *Service) ListRejected(ctx context.Context, tenantID string, cursor string) (privacy.InboundPage, error) {
	l, err := s.inboundLog()
	if err != nil {
		return privacy.InboundPage{}, err
	}
	return l.ListInbound(ctx, tenantID, privacy.InboundFilter{Status: privacy.InboundRejected, Limit: 100, Cursor: cursor})
}

// FailTask records a service's report that it could not carry out a task
// waiting for its answer. A permanent failure fails the task; a transient one
// schedules a retry (the task message is sent again) within the attempts and
// the deadline, as a connector's transient failure does. A report for a task
// that already ended changes nothing.
func (s *Service) FailTask(ctx context.Context, tg *TaskTarget, reason string, permanent bool, actor Actor) (*privacy.Task, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 500 {
		return nil, privacy.Errorf(privacy.KindInvalid, "invalid-reason", "reason must be 1-500 bytes")
	}
	cause := fmt.Errorf("%w: the service reported: %s", privacy.ErrUnavailable, reason)
	if permanent {
		cause = fmt.Errorf("%w: the service reported: %s", ErrPermanent, reason)
	}
	id := tg.Task.ID
	r, err := s.update(ctx, tg.Request, func(r *privacy.Request) error {
		task := r.Task(id)
		if task.Status.Terminal() {
			return errStale
		}
		if task.Status != privacy.TaskWaiting {
			return privacy.Errorf(privacy.KindConflict, "task-not-waiting", "the task is %s, not waiting for an answer", task.Status)
		}
		now := s.now()
		task.Attempts = max(task.Attempts, 1)
		task.By = actor.String()
		task.Status = privacy.TaskRunning
		s.settle(tg.Tenant, r, task, now, privacy.ConnectorResult{}, cause)
		return nil
	})
	if errors.Is(err, errStale) {
		return tg.Request.Task(id), nil
	}
	if err != nil {
		return nil, fmt.Errorf("fail task: %w", err)
	}
	s.taskSettled(ctx, r, id)
	s.d.Step("task-recorded")
	s.flushQuietly(ctx, r)
	return r.Task(id), nil
}
