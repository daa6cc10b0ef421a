package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func load(tb testing.TB) results {
	tb.Helper()
	f, err := os.Open("testdata/bench.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	return parse(f)
}

func TestParseAndMedian(t *testing.T) {
	t.Parallel()
	rs := load(t)
	for _, tc := range []struct {
		name, unit string
		want       float64
		ok         bool
	}{
		{"RawInsert/synchronous=full", "ops/s", 4100, true},
		{"IntakeThroughput", "req/s", 1600, true}, // even count: mean of the middle two
		{"IntakeLatencyAtRate", "p99-ms", 12.5, true},
		{"ColdStartNetHTTP", "start-ms", 4.754, true},
		{"Package1GB", "MB/s", 52.5, true},
		{"Package1GB", "allocs/op", 56, true},
		{"ColdStart/build=full", "MB/s", 0, false},
		{"ColdStart/build=functions", "binary-MB", 29.07, true},
		{"Missing", "ops/s", 0, false},
	} {
		got, ok := rs.median(tc.name, tc.unit)
		if got != tc.want || ok != tc.ok {
			t.Errorf("median(%s, %s) = %v, %v; want %v, %v", tc.name, tc.unit, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := rs["IntakeLatencyAtRate-2"]; ok {
		t.Error("the -GOMAXPROCS suffix was kept")
	}
}

func TestTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	writeTable(&buf, []results{load(t)}, map[string]bool{"intake": true, "coldstart": true, "package": true})
	want := []string{
		"| intake throughput, 32 clients over HTTP | IntakeThroughput | 1600 req/s | RawInsert/synchronous=full | 4100 ops/s | 0.390 | ratio ≥ 0.35 | yes |",
		"| intake p99, open loop at 820 req/s (20 % of RawInsert full) | IntakeLatencyAtRate | 12.5 p99-ms | – | – | – | ≤ 25 ms | yes |",
		"| 1 GiB export package to a file | Package1GB | 52.5 MB/s | FileCopy1GB | 543 MB/s | 0.097 | ratio ≥ 0.35 | no |",
		"| cold start, exec to accepting connections, full build | ColdStart/build=full | 22.9 start-ms | ColdStartNetHTTP | 4.8 start-ms | 4.821 | ≤ 30 ms | yes |",
		"| cold start, exec to accepting connections, standalone build | ColdStart/build=standalone | 31.1 start-ms | ColdStartNetHTTP | 4.8 start-ms | 6.552 | ≤ 30 ms | no |",
		"| idle RSS 300 ms after start, functions build | ColdStart/build=functions | 7.3 idle-rss-MB | ColdStartNetHTTP | 6.7 idle-rss-MB | 1.086 | ≤ 20 MB | yes |",
		"| idle RSS 3 s after start, deadline watch every second, full build | ColdStart/build=full | 19.2 idle-rss-3s-MB | ColdStartNetHTTP | – | – | ≤ 20 MB | – |",
	}
	var got []string
	for _, line := range strings.Split(buf.String(), "\n") {
		for _, w := range want {
			if line == w {
				got = append(got, line)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("table rows (-want +got):\n%s\nwhole table:\n%s", diff, buf.String())
	}
	if strings.Contains(buf.String(), "FanOut") {
		t.Error("a group that did not run is in the table")
	}
}

// A ratio is the median of each round's ratio to the baseline measured in
// that round, not the ratio of the medians: when the machine's load moves the
// baseline, the rounds keep their pairs.
func TestRatioIsPerRound(t *testing.T) {
	t.Parallel()
	round := func(pkg, copy float64) results {
		return results{"Package1GB": {"MB/s": {pkg}}, "FileCopy1GB": {"MB/s": {copy}}}
	}
	// Ratios 0.5, 0.4, 0.1: median 0.4; the medians' ratio would be 50 / 200.
	rounds := []results{round(50, 100), round(80, 200), round(30, 300)}
	var buf bytes.Buffer
	writeTable(&buf, rounds, map[string]bool{"package": true})
	want := "| 1 GiB export package to a file | Package1GB | 50.0 MB/s | FileCopy1GB | 200 MB/s | 0.400 | ratio ≥ 0.35 | yes |"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, buf.String())
	}
}
