package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/privops/privops/shared/config"
)

// subcommands are the binary's sub-commands. Each declares its flags on the
// FlagSet it gets and returns what runs once they are parsed and the
// configuration is read: flags come first, so `privops token --help` answers
// whatever state the configuration is in.
var subcommands = map[string]func(*flag.FlagSet) func(context.Context, *config.Config, io.Writer) error{
	"token":  tokenCommand,
	"replay": replayCommand,
}

// runSubcommand parses a sub-command's flags, then reads the configuration
// and runs it. --help prints the flags and succeeds.
func runSubcommand(ctx context.Context, name string, args []string, stdout io.Writer) error {
	mk, ok := subcommands[name]
	if !ok {
		return fmt.Errorf("unknown command %q (try: privops help)", name)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	exec := mk(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: privops %s [flags]\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	return exec(ctx, cfg, stdout)
}

// printHelp writes the usage: the commands and every setting with its
// default, generated from config.Config so that the list cannot drift.
func printHelp(w io.Writer) {
	fmt.Fprint(w, `privops: the privacy-operations suite in one binary.

usage:
  privops                 run the suite: under the Azure Functions host when
                          FUNCTIONS_CUSTOMHANDLER_PORT is set, under AWS Lambda when
                          AWS_LAMBDA_RUNTIME_API is set, otherwise standalone
  privops token [flags]   mint a dev token (AUTH_MODE=dev) with the server's key
                          (AUTH_DEV_KEY or DATA_DIR/secrets.json); see privops token --help
  privops replay [flags]  re-submit rejected and dead-lettered inbound messages after a fix;
                          see privops replay --help
  privops tenant VERB [flags]
                          onboard (create), list, get, update, suspend, resume and
                          offboard tenants on the configured store; see privops tenant help
  privops retention VERB --tenant ID [flags]
                          a tenant's retention policies (put, delete, policies), the legal
                          floors that bind it, a dry run and its run reports (counts only);
                          see privops retention help
  privops certificate verify FILE (--key KEYFILE | --url https://host)
                          check a request certificate against the published key
  privops version         print the version and the source revision
  privops help            print this help

settings (environment variables; the README says what each one means):
`)
	for _, s := range config.Settings() {
		def := s.Default
		switch {
		case s.Secret:
			def = "(secret)"
		case def == "":
			def = "(unset)"
		default:
			def = "default " + def
		}
		fmt.Fprintf(w, "  %-30s %s\n", s.Name, def)
	}
}

// printVersion writes the module version, the source revision and the Go
// release the binary was built from (runtime/debug build information).
func printVersion(w io.Writer) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "privops (no build information)")
		return
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " with local changes"
			}
		}
	}
	line := "privops " + version
	if rev != "" {
		line += " revision " + rev + dirty
		if at != "" {
			line += " (" + at + ")"
		}
	}
	fmt.Fprintln(w, strings.TrimSpace(line)+" "+bi.GoVersion)
}
