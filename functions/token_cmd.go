package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/config"
)

// tokenCommand is `privops token`: it mints a dev tenant token (AUTH_MODE=dev),
// or with --operator a dev operator token (no tenant claim); unknown roles are
// refused. It signs with the key the server signs with, read from AUTH_DEV_KEY or the server's
// DATA_DIR/secrets.json. It never makes a key of its own: the server would
// refuse a token signed with it.
func tokenCommand(fs *flag.FlagSet) func(context.Context, *config.Config, io.Writer) error {
	tenant := fs.String("tenant", "demo", "tenant id of a tenant token (in the claim AUTH_TENANT_CLAIM names, default tid)")
	operator := fs.Bool("operator", false, "mint an operator token (no tenant claim) for the operator API")
	role := fs.String("role", "", "comma-separated roles; tenant tokens: "+strings.Join(auth.TenantRoles, ", ")+
		" (default "+auth.RoleAdmin+"); operator tokens: "+strings.Join(auth.OperatorRoles, ", ")+" (default "+auth.RoleOperatorAdmin+")")
	sub := fs.String("sub", "dev-admin", "the caller's name (the sub claim)")
	ttl := fs.Duration("ttl", 8*time.Hour, "lifetime")
	return func(_ context.Context, cfg *config.Config, w io.Writer) error {
		claims := auth.Claims{Subject: *sub, TenantID: *tenant}
		if !*operator && cfg.AuthOperatorTenant != "" && *tenant == cfg.AuthOperatorTenant {
			// It would be an operator token with a tenant role: allowed nothing anywhere.
			return fmt.Errorf("token: %q is AUTH_OPERATOR_TENANT, the operator's own value, not a tenant; use --operator", *tenant)
		}
		if *operator {
			claims = auth.Claims{Subject: *sub, Operator: true}
		}
		roles := *role
		if roles == "" {
			roles = auth.RoleAdmin
			if *operator {
				roles = auth.RoleOperatorAdmin
			}
		}
		for _, r := range strings.Split(roles, ",") {
			if !auth.KnownRole(r, *operator) {
				kind, known := "tenant", auth.TenantRoles
				if *operator {
					kind, known = "operator", auth.OperatorRoles
				}
				return fmt.Errorf("token: %q is not a %s role (one of %s)", r, kind, strings.Join(known, ", "))
			}
			claims.Roles = append(claims.Roles, r)
		}
		if cfg.AuthMode != "dev" {
			return errors.New("token: only for AUTH_MODE=dev; production tokens come from your identity provider")
		}
		key, err := cfg.DevKey()
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		tok, err := auth.MintWith(key, claimMapping(cfg), claims, cfg.AuthIssuer, cfg.AuthAudience, time.Now(), *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, tok)
		return nil
	}
}
