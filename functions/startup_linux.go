//go:build linux

package main

import (
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
)

// releaseStartup runs once the host accepts connections. It gives back what
// only start-up needed, so that an idle process holds its working set and not
// the start-up's:
//
//   - the page mappings of the executable's read-only segments (code and
//     constants). The package initialisers of every linked SDK (Azure, AWS,
//     OpenTelemetry: about 300 packages) touch a page or two each, and
//     the kernel maps 64 KiB around every fault from the page cache, so about
//     20 MB of the binary counts in the resident set before main starts
//     (issue 16). madvise(MADV_DONTNEED) on a private read-only file mapping
//     only drops the mappings: the pages stay in the page cache and whatever
//     runs later maps them again with a minor fault. Writable segments (data,
//     bss) are left alone: there the call would discard the process's state.
//   - the heap the initialisers and the configuration left as garbage
//     (debug.FreeOSMemory: one collection, then the free pages go back).
func releaseStartup() {
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, line := range bytes.Split(maps, []byte{'\n'}) {
		// 00400000-0135a000 r-xp 00000000 fe:00 10748749   /path/to/exe
		f := bytes.Fields(line)
		if len(f) < 6 || string(f[5]) != exe {
			continue
		}
		if perms := string(f[1]); perms != "r-xp" && perms != "r--p" {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte{'-'})
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED)
	}
}
