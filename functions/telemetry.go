package main

import (
	"context"

	"github.com/privops/privops/shared/privacy"
)

// The telemetry hooks handed to the service and the deadline watch: nil when
// telemetry is off, so they skip the call altogether.

func (a *app) taskSettled() func(context.Context, string, privacy.Action, privacy.TaskStatus) {
	if a.tel == nil {
		return nil
	}
	return a.tel.TaskSettled
}

func (a *app) traceContext() func(context.Context) (string, string) {
	if a.tel == nil {
		return nil
	}
	return a.tel.TraceContext
}

func (a *app) deadlineCounts() func(context.Context, string, int, int) {
	if a.tel == nil {
		return nil
	}
	return a.tel.DeadlineCounts
}
