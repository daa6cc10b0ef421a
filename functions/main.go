// Command privops is the one binary of the privops suite and its only
// composition root: it reads the configuration, opens the adapters, builds every
// function and hands them to the host the environment asks for — the Azure
// Functions custom handler when FUNCTIONS_CUSTOMHANDLER_PORT is set, otherwise
// the AWS Lambda runtime when AWS_LAMBDA_RUNTIME_API is set, otherwise the
// standalone host (its own HTTP server, scheduler and queue consumers on the
// embedded SQLite file).
//
//	privops            run the suite
//	privops token ...  mint a dev admin token (standalone AUTH_MODE=dev)
//	privops replay     re-submit rejected and dead-lettered inbound messages after a fix
//	privops tenant ... onboard, list, read, change, suspend and resume tenants on the configured store
//	privops certificate verify FILE --key KEYFILE   check a request certificate against the published key
//	privops version    print the version and source revision
//	privops help       print the usage and every setting
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // tenant time zones must load on any machine

	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/logging"
)

// functionFiles holds every function's function.json: the same files drive the
// Functions host and the standalone host.
//
//go:embed */function.json
var functionFiles embed.FS

func main() {
	ctx, stop := signalContext()
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		// First line of the log: the host restarts a crashing handler, so the
		// reason must be easy to find. stderr is what the host records as errors.
		fmt.Fprintln(os.Stderr, "privops:", err)
		os.Exit(1)
	}
}

// signalContext is signal.NotifyContext for SIGINT and SIGTERM, but it
// registers them beside the start rather than before it: os/signal's first
// Notify starts the runtime's signal thread: 0.5 ms alone, and the start
// reached accept 1.2 to 2.7 ms sooner without it on its path (issue 16,
// interleaved runs). A signal in the first
// moments, before the registration, ends the process by its default action,
// which a start survives as it survives a kill: nothing is accepted yet, and
// every step after it is safe to redo. After the first signal, as with
// NotifyContext, a second one ends the process at once.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		select {
		case <-c:
		case <-ctx.Done():
		}
		signal.Stop(c)
		cancel()
	}()
	return ctx, cancel
}

// run is main without the process: tests call it. Help and version answer
// before the configuration is read, so they work whatever state it is in.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			printHelp(stdout)
			return nil
		case "version", "-version", "--version":
			printVersion(stdout)
			return nil
		case "tenant":
			return tenantCmd(ctx, args[1:], stdout)
		case "retention":
			return retentionCmd(ctx, args[1:], stdout)
		case "certificate":
			return certificateCmd(ctx, args[1:], stdout)
		}
		return runSubcommand(ctx, args[0], args[1:], stdout)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	// Warnings and errors to stderr, the rest to stdout: the Functions host
	// records stderr lines as errors (shared/logging).
	log := logging.Split(stdout, stderr, cfg.LogLevel)
	app, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	if cfg.Azure() {
		return app.serveAzure(ctx)
	}
	if cfg.Lambda() {
		return app.serveLambda(ctx)
	}
	if err := app.demo(ctx, stderr); err != nil {
		return err
	}
	return app.serveStandalone(ctx)
}

var errUsage = errors.New("usage")
