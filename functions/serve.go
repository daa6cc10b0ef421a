package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/azfunc"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/standalone"
	"github.com/privops/privops/shared/ui"
)

// serveAzure serves the functions to the Azure Functions host as its custom
// handler, until ctx ends.
func (a *app) serveAzure(ctx context.Context) error {
	h, err := azfunc.New(a.funcs, a.specs, a.log)
	if err != nil {
		return err
	}
	addr, err := azfunc.ListenAddr(os.LookupEnv)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	a.log.Info("custom handler listening", "addr", addr, "functions", len(a.funcs))
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	go releaseStartup()
	select {
	case err := <-errc:
		return fmt.Errorf("custom handler: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

func (a *app) serveStandalone(ctx context.Context) error {
	if a.cfg.QueueBackend == "servicebus" {
		// Only `privops replay` may run standalone against Service Bus.
		return errors.New("QUEUE_BACKEND: servicebus is received by the Functions host; standalone uses the built-in queue (sqlite)")
	}
	if a.cfg.PprofAddr != "" {
		pl, err := net.Listen("tcp", a.cfg.PprofAddr)
		if err != nil {
			return fmt.Errorf("PPROF_ADDR: %w", err)
		}
		go func() { _ = http.Serve(pl, pprofHandler()) }()
		a.log.Info("pprof listening", "addr", pl.Addr().String())
	}
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	a.log.Info("standalone suite listening", "addr", ln.Addr().String(), "data_dir", a.cfg.DataDir, "functions", len(a.funcs))
	demo := ""
	if a.cfg.DemoTenant {
		demo = demoTenant().ID
	}
	h := &standalone.Host{Listener: ln, Functions: a.funcs, Specs: a.specs, Receiver: a.db.Queue(),
		Lease: a.cfg.QueueLease, Workers: a.cfg.QueueWorkers, Logger: a.log, Index: ui.Index(demo)}
	// /readyz pings the store (SQLite, or Cosmos DB when STORE_BACKEND=cosmos).
	if p, ok := a.store.(interface{ Ping(context.Context) error }); ok {
		h.Ready = p.Ping
	}
	// The code mail spool (with the embedded store): portal submissions are
	// answered once their request and code mail are committed, and the mail
	// is sent after the answer. It stops before the store is closed.
	spoolCtx, stopSpool := context.WithCancel(ctx)
	spoolDone := make(chan struct{})
	go func() {
		defer close(spoolDone)
		a.svc.RunMailSpool(spoolCtx)
	}()
	defer func() {
		stopSpool()
		<-spoolDone
	}()
	go releaseStartup() // the listener accepts: start-up is over
	return h.Run(ctx)
}

// demoTenant is created on the first standalone start.
func demoTenant() *privacy.Tenant {
	return &privacy.Tenant{ID: "demo", Name: "Demo Tenant", Regimes: privacy.Regimes, Establishment: []string{privacy.RegimeEUGDPR},
		TimeZone: "UTC", PortalOrigins: []string{"http://localhost:3000"}, PIPLDays: 30, DefaultDays: 30, Contact: "privacy@demo.example"}
}

// demo creates the demo tenant on the first standalone start and prints a dev
// admin token. On Azure and Lambda it does nothing, whatever DEMO_TENANT says:
// a deployment holds only the tenants the operator creates (privops tenant
// create), and no tenant there is reachable with a dev token.
func (a *app) demo(ctx context.Context, w io.Writer) error {
	if !a.cfg.DemoTenant || a.cfg.Cloud() {
		return nil
	}
	created, err := a.svc.EnsureTenant(ctx, demoTenant())
	if err != nil || !created {
		return err
	}
	a.log.Info("demo tenant created", "tenant_id", "demo")
	if a.cfg.AuthMode != "dev" {
		return nil
	}
	tok, err := auth.MintWith(a.secrets.DevJWT, claimMapping(a.cfg), auth.Claims{Subject: "demo-admin", TenantID: "demo", Roles: []string{auth.RoleAdmin}},
		a.cfg.AuthIssuer, a.cfg.AuthAudience, time.Now(), 30*24*time.Hour)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nDemo tenant \"demo\" created. Dev admin token (30 days; mint more with `privops token`):\n\n%s\n\n", tok)
	return nil
}
