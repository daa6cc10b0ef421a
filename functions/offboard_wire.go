package main

import (
	"context"
	"fmt"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/offboard"
)

// newOffboarder builds the offboarding work on the store (which purges a
// tenant's documents kind by kind) and, when the queue is the built-in one,
// on the queue (which purges the tenant's messages); Service Bus keeps no
// message bodies of tenants to purge (messages carry ids only).
func (a *app) newOffboarder(ad adapters) (*offboard.Offboarder, error) {
	data, ok := ad.store.(offboard.Data)
	if !ok {
		return nil, fmt.Errorf("the store %T cannot purge a tenant (offboarding)", ad.store)
	}
	msgs, _ := ad.publisher.(offboard.Messages)
	inbound, _ := ad.store.(offboard.Inbound)
	// The data-subject fan-out's records and campaigns (the embedded store
	// only), and the breach notices for the return package.
	subjects, _ := ad.breachStore.(offboard.Subjects)
	var campaigns offboard.Campaigns // a nil *Service must stay a nil interface
	if a.breachSend != nil {
		campaigns = a.breachSend
	}
	var notices func(ctx context.Context, tenantID string, emit func(any) error) error
	if b := a.breach; b != nil {
		// As the tenant's admins read them: the notice with its clocks.
		notices = func(ctx context.Context, tenantID string, emit func(any) error) error {
			cursor := ""
			for {
				page, err := b.Notices(ctx, tenantID, cursor, 200)
				if err != nil {
					return err
				}
				for _, n := range page.Notices {
					clocks, err := b.Clocks(ctx, n)
					if err != nil {
						return err
					}
					if err := emit(breach.NoticeViewOf(n, clocks)); err != nil {
						return err
					}
				}
				if page.Next == "" {
					return nil
				}
				cursor = page.Next
			}
		}
	}
	return offboard.New(offboard.Config{PageSize: a.cfg.OffboardPageSize}, offboard.Deps{Store: ad.store, Inbound: inbound, Data: data, Messages: msgs, Blobs: ad.blobs,
		Subjects: subjects, Campaigns: campaigns, Notices: notices,
		Flush: a.svc.FlushTenant, Seal: a.svc.SealCertificate, Open: a.svc.OpenCertificate,
		Link: a.svc.OffboardingLink, CheckLink: a.svc.CheckOffboardingLink,
		NewID: func() string { return "aud_" + randomHex(16) }, Now: ad.now, Step: a.crashPoint(), Logger: a.log})
}
