package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/privops/privops/functions/operator"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// tenantUsage is `privops tenant`'s help.
const tenantUsage = `usage: privops tenant create --id ID --name NAME [--regimes R,R] [--establishment R,R] [--time-zone ZONE]
                             [--pipl-days N] [--default-days N] [--contact ADDRESS] [--portal-origins URL,URL]
       privops tenant list [--cursor ID] [--limit N]
       privops tenant get --id ID
       privops tenant update --id ID --patch '{"timeZone":"Europe/Paris"}' [--if-match ETAG]
       privops tenant suspend --id ID --reason TEXT
       privops tenant resume --id ID
       privops tenant offboard --id ID --choice return-then-delete|delete [--if-match ETAG]
       privops tenant cancel-offboard --id ID [--if-match ETAG]
       privops tenant offboarding --id ID
Every command works directly on the configured store (STORE_BACKEND: the SQLite file in DATA_DIR,
or Cosmos DB with the app settings), prints JSON and takes --actor NAME (default operator-cli:<os user>).`

// tenantCmd implements `privops tenant …`: the operator API's tenant
// operations, run directly on the configured store through the same domain
// operations (and audited the same way, the actor being the CLI's user), for
// bootstrap and for operators without a token.
// tenantCmd is `privops tenant VERB [flags]`. Its flags are parsed before the
// configuration is read, so `privops tenant create --help` answers whatever
// state the configuration is in.
func tenantCmd(ctx context.Context, args []string, w io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(w, tenantUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	verb := args[0]
	fs := flag.NewFlagSet("tenant "+verb, flag.ContinueOnError)
	fs.SetOutput(w)
	id := fs.String("id", "", "the tenant id")
	actorName := fs.String("actor", defaultActor(), "who acts, as recorded in the audit chains")
	var (
		name, regimes, establishment, zone, contact, origins *string
		piplDays, defaultDays, limit                         *int
		cursor, patch, ifMatch, reason, choice               *string
	)
	switch verb {
	case "create":
		name = fs.String("name", "", "the tenant's name (required)")
		regimes = fs.String("regimes", "", "comma-separated regimes it answers under ("+strings.Join(privacy.Regimes, ", ")+")")
		establishment = fs.String("establishment", "", "comma-separated regimes that apply to every request")
		zone = fs.String("time-zone", "", "IANA time zone of its deadlines (default UTC)")
		piplDays = fs.Int("pipl-days", 0, "PIPL response period in days (default 30)")
		defaultDays = fs.Int("default-days", 0, "response period when no regime applies (default 30)")
		contact = fs.String("contact", "", "the tenant's privacy contact mailbox")
		origins = fs.String("portal-origins", "", "comma-separated portal origins allowed by CORS")
	case "list":
		cursor = fs.String("cursor", "", "the next value of the previous page")
		limit = fs.Int("limit", 50, "tenants per page (1-200)")
	case "update":
		patch = fs.String("patch", "", "a JSON Merge Patch of the settings (null: back to the default)")
		ifMatch = fs.String("if-match", "", "the ETag the patch applies to (default: the current one)")
	case "suspend":
		reason = fs.String("reason", "", "why (required; recorded in both audit chains)")
	case "offboard":
		choice = fs.String("choice", "", "the controller's choice: return-then-delete or delete (required)")
		ifMatch = fs.String("if-match", "", "the ETag the offboarding applies to (default: the current one)")
	case "cancel-offboard":
		ifMatch = fs.String("if-match", "", "the ETag the cancel applies to (default: the current one)")
	case "get", "resume", "offboarding":
	default:
		fmt.Fprintln(w, tenantUsage)
		return fmt.Errorf("tenant: unknown command %q", verb)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("tenant %s: unexpected argument %q", verb, fs.Arg(0))
	}
	if verb != "list" && *id == "" {
		return fmt.Errorf("tenant %s: --id is required", verb)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	a, err := build(ctx, cfg, logging.New(io.Discard, "error"))
	if err != nil {
		return err
	}
	defer a.Close()
	actor := dsr.Actor{Operator: *actorName}
	var t *privacy.Tenant
	switch verb {
	case "create":
		in := dsr.NewTenant{ID: *id, TenantSettings: dsr.TenantSettings{Name: *name, Regimes: splitList(*regimes),
			Establishment: splitList(*establishment), TimeZone: *zone, PIPLDays: *piplDays, DefaultDays: *defaultDays,
			Contact: *contact, PortalOrigins: splitList(*origins)}}
		t, err = a.svc.CreateTenant(ctx, in, actor)
	case "list":
		if *limit < 1 || *limit > 200 {
			return errors.New("tenant list: --limit must be between 1 and 200")
		}
		page, err := a.svc.Tenants(ctx, *cursor, *limit)
		if err != nil {
			return cliError(verb, err)
		}
		out := struct {
			Tenants []operator.TenantView `json:"tenants"`
			Next    string                `json:"next,omitempty"`
		}{Tenants: []operator.TenantView{}, Next: page.Next}
		for _, t := range page.Tenants {
			out.Tenants = append(out.Tenants, operator.ViewOf(t))
		}
		return printJSON(w, out)
	case "get":
		t, err = a.svc.Tenant(ctx, *id)
	case "update":
		t, err = patchTenant(ctx, a.svc, *id, *ifMatch, *patch, actor)
	case "suspend":
		t, err = a.svc.SuspendTenant(ctx, *id, *reason, actor)
	case "resume":
		t, err = a.svc.ResumeTenant(ctx, *id, actor)
	case "offboard":
		t, err = a.svc.OffboardTenant(ctx, *id, unquote(*ifMatch), privacy.OffboardChoice(*choice), actor)
	case "cancel-offboard":
		t, err = a.svc.CancelOffboarding(ctx, *id, unquote(*ifMatch), actor)
	case "offboarding":
		v, err := a.offboarder.View(ctx, *id)
		if err != nil {
			return cliError(verb, err)
		}
		return printJSON(w, v)
	}
	if err != nil {
		return cliError(verb, err)
	}
	return printJSON(w, struct {
		operator.TenantView
		ETag string `json:"etag"`
	}{operator.ViewOf(t), t.ETag})
}

// patchTenant applies a JSON Merge Patch given on the command line, as the
// operator API's PATCH does; without --if-match, to the current version.
func patchTenant(ctx context.Context, svc *dsr.Service, id, ifMatch, patch string, actor dsr.Actor) (*privacy.Tenant, error) {
	p, err := web.ParseMergePatch([]byte(patch))
	if perr, ok := privacy.AsError(err); ok {
		return nil, privacy.Errorf(perr.Kind, perr.Code, "--patch: %s", perr.Message)
	} else if err != nil {
		return nil, err
	}
	return svc.UpdateTenantWith(ctx, id, unquote(ifMatch), web.Merged[dsr.TenantSettings](p), actor)
}

// unquote takes an ETag quoted (as the API's ETag header shows it) or not.
func unquote(etag string) string {
	if uq, err := strconv.Unquote(etag); err == nil {
		return uq
	}
	return etag
}

// cliError words a user error as "<code>: <message>" (with the field), so
// scripts can match the same codes the API answers.
func cliError(verb string, err error) error {
	if e, ok := privacy.AsError(err); ok {
		if e.Field != "" {
			return fmt.Errorf("tenant %s: %s (field %s): %s", verb, e.Code, e.Field, e.Message)
		}
		return fmt.Errorf("tenant %s: %s: %s", verb, e.Code, e.Message)
	}
	return fmt.Errorf("tenant %s: %w", verb, err)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// splitList splits a comma-separated flag ("" is none).
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// defaultActor is "operator-cli:<os user>".
func defaultActor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return "operator-cli:" + name
}
