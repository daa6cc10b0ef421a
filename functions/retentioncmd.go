package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
)

// retentionUsage is `privops retention`'s help.
const retentionUsage = `usage: privops retention policies --tenant ID
       privops retention put --tenant ID --policy ID --json '{"category":"…","scope":"service","service":"…",…}'
       privops retention delete --tenant ID --policy ID
       privops retention floors --tenant ID
       privops retention preview --tenant ID [--policy ID]
       privops retention runs --tenant ID
Every command works directly on the configured store, as privops tenant does, and prints JSON. put and
delete are audited in the tenant's chain and the operator's, the actor being --actor NAME (default
operator-cli:<os user>); runs shows counts only, as the operator API does.`

// retentionCmd implements `privops retention …`: a tenant's retention
// policies, floors, dry run and run reports for the operator, through the
// same domain operations as the admin API.
func retentionCmd(ctx context.Context, args []string, w io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(w, retentionUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	verb := args[0]
	fs := flag.NewFlagSet("retention "+verb, flag.ContinueOnError)
	fs.SetOutput(w)
	tenant := fs.String("tenant", "", "the tenant id (required)")
	actorName := fs.String("actor", defaultActor(), "who acts, as recorded in the audit chains")
	var policy, body *string
	switch verb {
	case "put":
		policy = fs.String("policy", "", "the policy id (required)")
		body = fs.String("json", "", "the policy, as PUT /api/admin/{tenant}/retention/policies/{id} takes it")
	case "delete", "preview":
		policy = fs.String("policy", "", "the policy id")
	case "policies", "floors", "runs":
	default:
		fmt.Fprintln(w, retentionUsage)
		return fmt.Errorf("retention: unknown command %q", verb)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("retention %s: unexpected argument %q", verb, fs.Arg(0))
	}
	if *tenant == "" || (verb == "put" || verb == "delete") && *policy == "" {
		return fmt.Errorf("retention %s: --tenant (and for put and delete --policy) is required", verb)
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
	fail := func(err error) error { return retentionError(verb, err) }
	switch verb {
	case "policies":
		t, err := a.svc.Tenant(ctx, *tenant)
		if err != nil {
			return fail(err)
		}
		ps := t.RetentionPolicies
		if ps == nil {
			ps = []privacy.RetentionPolicy{}
		}
		return printJSON(w, map[string]any{"policies": ps})
	case "put":
		var in privacy.RetentionPolicy
		dec := json.NewDecoder(strings.NewReader(*body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return fail(privacy.Errorf(privacy.KindInvalid, "malformed-json", "--json must be a retention policy object"))
		}
		if in.ID != "" && in.ID != *policy {
			return fail(privacy.Errorf(privacy.KindInvalid, "id-mismatch", "the policy's id differs from --policy"))
		}
		in.ID = *policy
		p, _, err := a.svc.PutRetentionPolicy(ctx, *tenant, in, actor)
		if err != nil {
			return fail(err)
		}
		return printJSON(w, p)
	case "delete":
		if err := a.svc.DeleteRetentionPolicy(ctx, *tenant, *policy, actor); err != nil {
			return fail(err)
		}
		return printJSON(w, map[string]string{"deleted": *policy})
	case "floors":
		fl, err := a.svc.RetentionFloors(ctx, *tenant)
		if err != nil {
			return fail(err)
		}
		return printJSON(w, map[string]any{"floors": fl})
	case "preview":
		if _, err := a.svc.Tenant(ctx, *tenant); err != nil {
			return fail(err)
		}
		p, err := a.sweeper.Preview(ctx, *tenant, *policy, 5*time.Minute)
		if err != nil {
			return fail(err)
		}
		return printJSON(w, p)
	}
	// runs
	t, err := a.svc.Tenant(ctx, *tenant)
	if err != nil {
		return fail(err)
	}
	runs, err := retention.Runs(t)
	if err != nil {
		return fail(err)
	}
	out := []retention.Summary{}
	for i := range runs {
		out = append(out, runs[i].Summarize())
	}
	return printJSON(w, map[string]any{"runs": out})
}

// retentionError words a user error as privops tenant does.
func retentionError(verb string, err error) error {
	if e, ok := privacy.AsError(err); ok {
		if e.Field != "" {
			return fmt.Errorf("retention %s: %s (field %s): %s", verb, e.Code, e.Field, e.Message)
		}
		return fmt.Errorf("retention %s: %s: %s", verb, e.Code, e.Message)
	}
	return fmt.Errorf("retention %s: %w", verb, err)
}
