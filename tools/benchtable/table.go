package main

import (
	"fmt"
	"io"
	"strconv"
)

// row is one line of the table: a benchmark's metric, the baseline metric it
// is compared with (if any), and the goal of issue 16 it is held to (if any).
type row struct {
	group, what  string
	bench, unit  string
	base, bunit  string // baseline benchmark and unit; "" for none
	goal         string // as printed
	met          func(v, ratio float64) bool
	valueDigits  int
	offeredShare bool // the what names the offered rate: latencyShare of RawInsert
}

var rows = []row{
	{group: "intake", what: "intake throughput, 32 clients over HTTP", bench: "IntakeThroughput", unit: "req/s",
		base: "RawInsert/synchronous=full", bunit: "ops/s", goal: "ratio ≥ 0.35", met: func(_, r float64) bool { return r >= 0.35 }},
	{group: "intake", what: "intake p50, open loop", bench: "IntakeLatencyAtRate", unit: "p50-ms", valueDigits: 1, offeredShare: true},
	{group: "intake", what: "intake p99, open loop", bench: "IntakeLatencyAtRate", unit: "p99-ms", valueDigits: 1, offeredShare: true,
		goal: "≤ 25 ms", met: func(v, _ float64) bool { return v <= 25 }},
	{group: "fanout", what: "1,000 erasures × 10 instant services, end to end", bench: "FanOut1000x10", unit: "s-end-to-end", valueDigits: 1,
		goal: "≤ 60 s", met: func(v, _ float64) bool { return v <= 60 }},
	{group: "fanout", what: "per-task overhead p50 inside that run", bench: "FanOut1000x10", unit: "overhead-p50-ms", valueDigits: 2,
		base: "TaskOverhead", bunit: "overhead-p50-ms", goal: "ratio ≤ 3", met: func(_, r float64) bool { return r <= 3 }},
	{group: "fanout", what: "per-task overhead p99 inside that run", bench: "FanOut1000x10", unit: "overhead-p99-ms", valueDigits: 2,
		base: "TaskOverhead", bunit: "overhead-p99-ms"},
	{group: "package", what: "1 GiB export package to a file", bench: "Package1GB", unit: "MB/s", valueDigits: 1,
		base: "FileCopy1GB", bunit: "MB/s", goal: "ratio ≥ 0.35", met: func(_, r float64) bool { return r >= 0.35 }},
	{group: "package", what: "its peak RSS", bench: "Package1GB", unit: "peak-RSS-MB", valueDigits: 1,
		base: "FileCopy1GB", bunit: "peak-RSS-MB", goal: "≤ 100 MB", met: func(v, _ float64) bool { return v <= 100 }},
}

// hostBuilds are BenchmarkColdStart's sub-benchmarks, one per host's build
// (README, Builds), each with its cold-start rows.
var hostBuilds = []string{"full", "functions", "lambda", "standalone"}

func init() {
	for _, unit := range []struct{ what, unit, goal string }{
		{"cold start, exec to accepting connections", "start-ms", "≤ 30 ms"},
		{"idle RSS 300 ms after start", "idle-rss-MB", "≤ 20 MB"},
		{"idle RSS 3 s after start, deadline watch every second", "idle-rss-3s-MB", "≤ 20 MB"},
		{"binary size (stripped)", "binary-MB", ""},
	} {
		for _, b := range hostBuilds {
			r := row{group: "coldstart", what: unit.what + ", " + b + " build", bench: "ColdStart/build=" + b, unit: unit.unit, valueDigits: 1,
				base: "ColdStartNetHTTP", bunit: unit.unit, goal: unit.goal}
			switch unit.unit {
			case "start-ms":
				r.met = func(v, _ float64) bool { return v <= 30 }
			case "idle-rss-MB", "idle-rss-3s-MB":
				r.met = func(v, _ float64) bool { return v <= 20 }
			}
			rows = append(rows, r)
		}
	}
}

// writeTable writes the rows of the groups that ran as a Markdown table: a
// value is the median over the rounds, a ratio the median of the rounds'
// ratios (each of a value and the baseline measured beside it).
func writeTable(w io.Writer, rounds []results, groups map[string]bool) {
	all := results{}
	for _, rs := range rounds {
		all.add(rs)
	}
	fmt.Fprintln(w, "| what | benchmark | median | baseline | baseline median | ratio | goal | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		if !groups[r.group] {
			continue
		}
		v, ok := all.median(r.bench, r.unit)
		what := r.what
		if r.offeredShare {
			if rate, ok := all.median(r.bench, "offered-req/s"); ok {
				what = fmt.Sprintf("%s at %.0f req/s (%.0f %% of RawInsert full)", what, rate, latencyShare*100)
			}
		}
		cells := []string{what, r.bench, "–", "–", "–", "–", r.goal, "–"}
		if r.goal == "" {
			cells[6] = "–"
		}
		if ok {
			cells[2] = num(v, r.valueDigits) + " " + r.unit
		}
		ratio, rok := 0.0, false
		if r.base != "" {
			cells[3] = r.base
			if bv, bok := all.median(r.base, r.bunit); bok {
				cells[4] = num(bv, r.valueDigits) + " " + r.bunit
			}
			var ratios []float64
			for _, rs := range rounds {
				v, vok := rs.median(r.bench, r.unit)
				b, bok := rs.median(r.base, r.bunit)
				if vok && bok && b != 0 {
					ratios = append(ratios, v/b)
				}
			}
			if ratio, rok = median(ratios); rok {
				cells[5] = strconv.FormatFloat(ratio, 'f', 3, 64)
			}
		}
		if r.met != nil && ok && (r.base == "" || rok) {
			cells[7] = "no"
			if r.met(v, ratio) {
				cells[7] = "yes"
			}
		}
		fmt.Fprint(w, "|")
		for _, c := range cells {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintln(w)
	}
}

// num formats v with digits decimals, or none for values of 100 and more.
func num(v float64, digits int) string {
	if v >= 100 {
		digits = 0
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}
