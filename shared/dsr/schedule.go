package dsr

import (
	"fmt"
	"time"

	"github.com/privops/privops/shared/deadline"
	"github.com/privops/privops/shared/privacy"
)

// input maps a request onto the deadline engine's input.
func input(t *privacy.Tenant, r *privacy.Request, now time.Time) deadline.Input {
	in := deadline.Input{
		Regimes:            deadline.Applicable(r.Subject.Country, r.Subject.Region, t.Regimes, t.Establishment),
		Type:               string(r.Type),
		Location:           t.Location(),
		ReceivedAt:         r.ReceivedAt,
		IdentityVerifiedAt: r.IdentityVerifiedAt,
		Now:                now,
		PIPLDays:           t.PIPLDays,
		LGPDSmallAgent:     t.LGPDSmallAgent,
		DefaultDays:        t.DefaultDays,
	}
	for _, p := range r.Pauses {
		in.Pauses = append(in.Pauses, deadline.Pause{From: p.From, To: p.To})
	}
	if r.Extension != nil {
		in.ExtensionNoticedAt = r.Extension.NoticedAt
	}
	return in
}

// schedule derives r.Due from the stored timestamps (never stored by hand): the
// earliest deadline of every applicable regime, and which regime produced it.
func (s *Service) schedule(t *privacy.Tenant, r *privacy.Request, now time.Time) error {
	res, err := deadline.Compute(input(t, r, now))
	if err != nil {
		return fmt.Errorf("compute deadline for %s: %w", r, err)
	}
	r.Due = privacy.Due{
		At: res.DueAt.UTC(), Regime: res.Regime, Rule: res.Rule, InitialAt: res.InitialAt.UTC(),
		Extended: res.Extended, Paused: res.Paused,
	}
	return nil
}

// checkExtensible refuses an extension the governing regime does not allow, or
// whose notice could no longer be sent inside the first period.
func (s *Service) checkExtensible(t *privacy.Tenant, r *privacy.Request, now time.Time) error {
	res, err := deadline.Compute(input(t, r, now))
	if err != nil {
		return fmt.Errorf("compute deadline for %s: %w", r, err)
	}
	if !res.ExtensionAllowed {
		return privacy.Errorf(privacy.KindUnprocessable, "extension-not-allowed", "the governing rule (%s) allows no extension", res.Regime)
	}
	if now.After(res.InitialAt) {
		return privacy.Errorf(privacy.KindConflict, "extension-window-closed", "an extension must be noticed inside the first period, which ended")
	}
	return nil
}
