// Command benchtable runs privops's headline benchmarks, each beside the
// baseline it is judged against, in one invocation on one machine, and prints
// one table of medians, ratios and the goals of issue 16. Absolute figures move
// from machine to machine (and on a shared one from minute to minute); the
// ratios to a baseline measured in the same run are what the goals are set on.
//
//	go tool -modfile=tools/task/go.mod task bench                 # everything, 3 runs each
//	go run ./tools/benchtable -only intake,coldstart -count 5
//
// The `go test -bench` output is streamed to standard error as it comes; the
// table (Markdown) goes to standard output.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

func main() {
	count := flag.Int("count", 3, "rounds; each round runs every benchmark once beside its baseline, and the table shows medians over the rounds")
	only := flag.String("only", "intake,coldstart,fanout,package", "comma-separated groups to run: intake, coldstart, fanout, package")
	exportBytes := flag.String("export-bytes", "1G", "EXPORT_BENCH_BYTES for the package benchmarks (1G: the 1 GiB of the goal)")
	flag.Parse()
	groups := map[string]bool{}
	for _, g := range strings.Split(*only, ",") {
		groups[strings.TrimSpace(g)] = true
	}
	// The benchmarks of package functions keep their data folders under
	// BENCH_DATA_DIR, removed only after the last round: deleting thousands
	// of mail files makes the next file creates slow on some file systems
	// (functions/benchdir_test.go), and no benchmark should pay for another's
	// clean-up, in this round or the next.
	data, err := os.MkdirTemp("", "privops-benchtable-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	r := &runner{log: os.Stderr, env: []string{"BENCH_DATA_DIR=" + data}}
	// Compile everything once before the first round, so that round 1 does
	// not alone carry a cold build's CPU and its thousands of temporary
	// files (whose deletion slows the next file creates on some file
	// systems, as above): every round then builds from a warm cache.
	if err := r.warm(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.RemoveAll(data)
		os.Exit(1)
	}
	for round := range *count {
		fmt.Fprintf(r.log, "\n## round %d of %d\n", round+1, *count)
		if err := r.round(groups, *exportBytes); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.RemoveAll(data)
			os.Exit(1)
		}
	}
	if err := os.RemoveAll(data); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
	}
	fmt.Fprintf(os.Stdout, "\nMedians of %d rounds; in each round every baseline ran beside its benchmark, minutes apart at most, and a ratio is the median of the rounds' ratios.\n\n", *count)
	writeTable(os.Stdout, r.rounds, groups)
}

// runner runs `go test -bench` invocations and collects what they report,
// one results per round.
type runner struct {
	rounds []results
	log    io.Writer
	env    []string // for every go test it runs
}

// round runs each group's benchmarks once, each beside its baseline: on a
// shared machine the load changes from minute to minute, so a baseline
// measured in another minute says little.
func (r *runner) round(groups map[string]bool, exportBytes string) error {
	res := results{}
	r.rounds = append(r.rounds, res)
	if groups["intake"] {
		// The baseline first: the latency benchmark's offered rate is 20 % of it.
		if err := r.goTest(res, nil, "./shared/sqlite/", "-bench", "^BenchmarkRawInsert$/^synchronous=full$"); err != nil {
			return err
		}
	}
	var fn []string
	var env []string
	if groups["intake"] {
		raw, ok := res.median("RawInsert/synchronous=full", "ops/s")
		if !ok {
			return fmt.Errorf("RawInsert reported no ops/s")
		}
		env = append(env, "INTAKE_RATE="+strconv.Itoa(max(1, int(math.Round(raw*latencyShare)))))
		fn = append(fn, "IntakeThroughput", "IntakeLatencyAtRate")
	}
	if groups["coldstart"] {
		fn = append(fn, "ColdStart", "ColdStartNetHTTP")
	}
	if len(fn) > 0 {
		if err := r.goTest(res, env, "./functions/", "-bench", "^Benchmark("+strings.Join(fn, "|")+")$", "-benchtime", "1x"); err != nil {
			return err
		}
	}
	if groups["fanout"] {
		if err := r.goTest(res, nil, "./functions/", "-bench", "^Benchmark(FanOut1000x10|TaskOverhead)$", "-benchtime", "1x"); err != nil {
			return err
		}
	}
	if groups["package"] {
		// One benchmark per process: the peak RSS (VmHWM) is process-wide.
		for _, name := range []string{"Package1GB", "FileCopy1GB"} {
			if err := r.goTest(res, []string{"EXPORT_BENCH_BYTES=" + exportBytes}, "./shared/export/", "-bench", "^Benchmark"+name+"$", "-benchtime", "1x"); err != nil {
				return err
			}
		}
	}
	return nil
}

// warm fills the build cache: the test binaries of the benchmarked packages
// and the privops binary the functions benchmarks build and start.
func (r *runner) warm() error {
	fmt.Fprintf(r.log, "\n## warming the build cache (nothing measured)\n")
	for _, args := range [][]string{
		{"test", "-run", "^$", "-bench", "^$", "-count", "1", "./shared/sqlite/", "./functions/", "./shared/export/"},
		{"build", "-trimpath", "-ldflags", "-s -w", "-o", os.DevNull, "./functions/"},
		{"build", "-tags", "privops_functions", "-trimpath", "-ldflags", "-s -w", "-o", os.DevNull, "./functions/"},
		{"build", "-tags", "privops_lambda", "-trimpath", "-ldflags", "-s -w", "-o", os.DevNull, "./functions/"},
		{"build", "-tags", "privops_standalone", "-trimpath", "-ldflags", "-s -w", "-o", os.DevNull, "./functions/"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as the benchmarks build them
		cmd.Stdout, cmd.Stderr = r.log, r.log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// latencyShare is the offered intake rate of the latency goal, as a share of
// the RawInsert rate measured beside it.
const latencyShare = 0.20

func (r *runner) goTest(into results, env []string, pkg string, args ...string) error {
	args = append([]string{"test", "-run", "^$", "-timeout", "60m", "-count", "1"}, append(args, pkg)...)
	fmt.Fprintf(r.log, "\n$ %s go %s\n", strings.Join(env, " "), strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	cmd.Env = append(append(os.Environ(), r.env...), env...)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, r.log)
	cmd.Stderr = r.log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	into.add(parse(&out))
	return nil
}

// results holds every value each benchmark reported, by benchmark name
// (without the Benchmark prefix and the -GOMAXPROCS suffix) and unit.
type results map[string]map[string][]float64

func (rs results) add(other results) {
	for name, units := range other {
		if rs[name] == nil {
			rs[name] = map[string][]float64{}
		}
		for unit, vs := range units {
			rs[name][unit] = append(rs[name][unit], vs...)
		}
	}
}

// median is the median of what name reported in unit.
func (rs results) median(name, unit string) (float64, bool) {
	return median(rs[name][unit])
}

// median is the median of vs; false if there are none.
func median(vs []float64) (float64, bool) {
	vs = slices.Clone(vs)
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
	return vs[len(vs)/2], true
}

// parse reads `go test -bench` output: lines "BenchmarkName-2  N  v unit  v unit …".
func parse(r io.Reader) results {
	rs := results{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if rs[name] == nil {
				rs[name] = map[string][]float64{}
			}
			rs[name][f[i+1]] = append(rs[name][f[i+1]], v)
		}
	}
	return rs
}
