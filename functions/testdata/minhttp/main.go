// Command minhttp is the cold-start baseline of BenchmarkColdStartNetHTTP: a
// minimal net/http server that listens on HTTP_ADDR and answers 204, so the
// suite's exec-to-accept time is measured beside what the Go runtime and
// net/http alone cost on the same machine in the same run.
package main

import (
	"net/http"
	"os"
)

func main() {
	err := http.ListenAndServe(os.Getenv("HTTP_ADDR"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
