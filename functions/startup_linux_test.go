//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReleaseStartupDropsTheExecutablesPages checks that releaseStartup gives
// back the page mappings of the executable that start-up touched (issue 16:
// idle RSS), and that the process keeps running on the same code and data.
func TestReleaseStartupDropsTheExecutablesPages(t *testing.T) {
	before := rssFileKB(t)
	releaseStartup()
	after := rssFileKB(t)
	if after >= before {
		t.Errorf("file-backed RSS %d kB after releaseStartup, %d kB before: want less", after, before)
	}
	// The code runs again after its pages were dropped, and data is intact.
	if got := strconv.Itoa(42) + strings.ToUpper("ok"); got != "42OK" {
		t.Errorf("after release: %q", got)
	}
}

func rssFileKB(tb testing.TB) int {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				tb.Fatal(err)
			}
			return kb
		}
	}
	tb.Fatal("no RssFile in /proc/self/status")
	return 0
}
