package dsr

import (
	"context"
	"errors"
	"fmt"

	"github.com/privops/privops/shared/privacy"
)

// What a queue message names, read for its handler: the tenant (checked by
// its ETag, tenantcache.go) and the request, or the copy of the request this
// process committed last when a task message may use it. An unknown tenant or
// request is permanent: the message is dead-lettered with the reason.

// loadForMessage loads what a queue message names; an unknown tenant or
// request is permanent (the message is dead-lettered with the reason).
func (s *Service) loadForMessage(ctx context.Context, tenantID, requestID string) (*privacy.Tenant, *privacy.Request, error) {
	t, err := s.tenantForMessage(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	return s.requestForMessage(ctx, t, requestID)
}

// loadForTask is loadForMessage for a task message. When this process wrote
// the request lately and the copy it kept shows the task claimable, the copy
// is used instead of a read: the claim that follows is a write guarded by the
// ETag, so a copy older than the stored request loses and the claim is
// decided again on the stored one. Whenever the copy says there is nothing
// to do, the stored request decides.
func (s *Service) loadForTask(ctx context.Context, tenantID, requestID, taskID string) (*privacy.Tenant, *privacy.Request, error) {
	t, err := s.tenantForMessage(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	if r := s.gates.peek(requestKey(t.ID, requestID)); r != nil {
		if task := r.Task(taskID); task != nil && claimable(task, s.now()) {
			return t, r, nil
		}
	}
	return s.requestForMessage(ctx, t, requestID)
}

func (s *Service) tenantForMessage(ctx context.Context, tenantID string) (*privacy.Tenant, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		if _, ok := privacy.AsError(err); ok {
			return nil, fmt.Errorf("%w: unknown tenant", ErrPermanent)
		}
		return nil, err
	}
	return t, nil
}

func (s *Service) requestForMessage(ctx context.Context, t *privacy.Tenant, requestID string) (*privacy.Tenant, *privacy.Request, error) {
	r, err := s.d.Store.GetRequest(ctx, t.ID, requestID)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: unknown request", ErrPermanent)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get request: %w", err)
	}
	return t, r, nil
}
