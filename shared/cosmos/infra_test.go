package cosmos

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/config"
)

// bicepContainer is what infra/cosmos.bicep declares for one container.
type bicepContainer struct {
	Name          string
	PartitionKeys []string
	Indexed       []string
	DefaultTTL    *int32
	ExcludesRest  bool
}

var (
	bicepResource = regexp.MustCompile(`(?m)^resource \w+ '([^'@]+)@[^']+'`)
	bicepName     = regexp.MustCompile(`(?m)^\s*name: '([^']+)'`)
	bicepQuoted   = regexp.MustCompile(`'([^']*)'`)
	bicepPath     = regexp.MustCompile(`path: '([^']+)'`)
	bicepTTL      = regexp.MustCompile(`(?m)^\s*defaultTtl: (-?\d+)`)
)

// between returns the text of s after the first start up to the next end.
func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	in, _, _ := strings.Cut(after, end)
	return in
}

// parseBicepContainers reads the container resources of a Bicep file: a
// plain-text reading of the layout cosmos.bicep uses, since Bicep cannot be
// compiled here.
func parseBicepContainers(tb testing.TB, src string) []bicepContainer {
	tb.Helper()
	locs := bicepResource.FindAllStringSubmatchIndex(src, -1)
	var out []bicepContainer
	for i, loc := range locs {
		end := len(src)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if src[loc[2]:loc[3]] != "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers" {
			continue
		}
		block := src[loc[0]:end]
		var c bicepContainer
		if m := bicepName.FindStringSubmatch(block); m != nil {
			c.Name = m[1]
		}
		for _, m := range bicepQuoted.FindAllStringSubmatch(between(between(block, "partitionKey: {", "}"), "paths: [", "]"), -1) {
			c.PartitionKeys = append(c.PartitionKeys, m[1])
		}
		for _, m := range bicepPath.FindAllStringSubmatch(between(block, "includedPaths: [", "excludedPaths"), -1) {
			c.Indexed = append(c.Indexed, m[1])
		}
		if m := bicepTTL.FindStringSubmatch(block); m != nil {
			n, err := strconv.ParseInt(m[1], 10, 32)
			if err != nil {
				tb.Fatalf("container %s: defaultTtl %s", c.Name, m[1])
			}
			c.DefaultTTL = ptr(int32(n))
		}
		c.ExcludesRest = strings.Contains(block, "excludedPaths: excludeTheRest")
		out = append(out, c)
	}
	return out
}

// TestBicepDeclaresTheContainers keeps infra/cosmos.bicep and the code in
// step: the same containers, partition key paths, indexed paths and TTLs, and
// everything else excluded from indexing.
func TestBicepDeclaresTheContainers(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../infra/cosmos.bicep")
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	var want []bicepContainer
	for _, c := range Containers {
		want = append(want, bicepContainer{Name: c.Name, PartitionKeys: []string{c.PartitionKey},
			Indexed: c.Indexed, DefaultTTL: c.DefaultTTL, ExcludesRest: true})
	}
	// The change feed's lease container for the outbox function (see
	// functions/outbox/function.json): partitioned by /id as the Functions
	// extension requires, default indexing.
	want = append(want, bicepContainer{Name: "leases", PartitionKeys: []string{"/id"}})
	got := parseBicepContainers(t, src)
	// The reading has teeth: a path renamed in the Bicep shows as a difference.
	altered := parseBicepContainers(t, strings.Replace(src, "'/openDueAt/?'", "'/openDue/?'", 1))
	if cmp.Equal(got, altered) {
		t.Fatal("the Bicep reading does not see included paths")
	}
	byName := func(a, b bicepContainer) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(want, byName)
	slices.SortFunc(got, byName)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("containers in infra/cosmos.bicep (-code +bicep):\n%s", d)
	}
	if rest := between(src, "var excludeTheRest = [", "]"); !strings.Contains(rest, "path: '/*'") {
		t.Errorf("excludeTheRest does not exclude the root path: %q", rest)
	}
	for _, c := range Containers {
		if c.PartitionKey != PartitionKeyPath {
			t.Errorf("container %s is partitioned by %s, not %s", c.Name, c.PartitionKey, PartitionKeyPath)
		}
		for _, payload := range []string{"/subject/", "/changes/", "/outbox/", "/notices/", "/event/", "/last/"} {
			for _, p := range c.Indexed {
				if strings.HasPrefix(p, payload) {
					t.Errorf("container %s indexes payload path %s", c.Name, p)
				}
			}
		}
	}
	if !strings.Contains(src, "param databaseName string = '"+DefaultDatabase+"'") {
		t.Errorf("the Bicep database name default is not %q", DefaultDatabase)
	}
}

// TestDefaultDatabaseMatchesConfig: COSMOS_DATABASE's default is the store's.
func TestDefaultDatabaseMatchesConfig(t *testing.T) {
	t.Setenv("COSMOS_DATABASE", "") // restored afterwards
	if err := os.Unsetenv("COSMOS_DATABASE"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Skipf("config does not load in this environment: %v", err)
	}
	if cfg.CosmosDatabase != DefaultDatabase {
		t.Errorf("COSMOS_DATABASE defaults to %q, the store to %q", cfg.CosmosDatabase, DefaultDatabase)
	}
}
