//go:build !linux

package main

import "runtime/debug"

// releaseStartup gives back the heap start-up left as garbage; the
// executable's page mappings are released on Linux only (startup_linux.go).
func releaseStartup() { debug.FreeOSMemory() }
