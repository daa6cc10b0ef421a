package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"time"
)

// pprofHandler serves the runtime's profiles on PPROF_ADDR, at the paths of
// net/http/pprof that go tool pprof reads:
//
//	/debug/pprof/                      the profiles, a line each
//	/debug/pprof/<name>                heap, allocs, goroutine, block, mutex, threadcreate;
//	                                   ?debug=1 or 2 as text, ?gc=1 collects before a heap profile
//	/debug/pprof/profile?seconds=N     CPU profile (default 30 s)
//	/debug/pprof/trace?seconds=N       runtime trace (default 1 s): where a request's tail goes
//
// It is ours, not net/http/pprof: that package's initialiser registers its
// handlers on http.DefaultServeMux in every process that links it, a cost at
// every start (issue 16) for an option only the standalone host has, and a
// handler on the default mux is one mistake away from being served publicly.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "profile?seconds=30\ntrace?seconds=1")
		for _, p := range pprof.Profiles() {
			fmt.Fprintf(w, "%s (%d)\n", p.Name(), p.Count())
		}
	})
	mux.HandleFunc("GET /debug/pprof/profile", func(w http.ResponseWriter, r *http.Request) {
		record(w, r, 30*time.Second, pprof.StartCPUProfile, pprof.StopCPUProfile)
	})
	mux.HandleFunc("GET /debug/pprof/trace", func(w http.ResponseWriter, r *http.Request) {
		record(w, r, time.Second, trace.Start, trace.Stop)
	})
	mux.HandleFunc("GET /debug/pprof/{name}", func(w http.ResponseWriter, r *http.Request) {
		p := pprof.Lookup(r.PathValue("name"))
		if p == nil {
			http.Error(w, "no such profile", http.StatusNotFound)
			return
		}
		debug, _ := strconv.Atoi(r.FormValue("debug"))
		if p.Name() == "heap" && r.FormValue("gc") != "" {
			runtime.GC()
		}
		if debug != 0 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		_ = p.WriteTo(w, debug)
	})
	return mux
}

// record writes what start records into w for ?seconds= (else def), or until
// the client goes away. One recording of a kind runs at a time.
func record(w http.ResponseWriter, r *http.Request, def time.Duration, start func(w io.Writer) error, stop func()) {
	d := def
	if s := r.FormValue("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 3600 {
			http.Error(w, "seconds must be a whole number from 1 to 3600", http.StatusBadRequest)
			return
		}
		d = time.Duration(n) * time.Second
	}
	w.Header().Set("Content-Type", "application/octet-stream") // before start, whose writer may run at once
	if err := start(w); err != nil {
		http.Error(w, "a recording is already running", http.StatusConflict)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	<-ctx.Done()
	stop()
}
