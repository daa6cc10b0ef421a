//go:build !linux

package export_test

import (
	"errors"
	"time"
)

// cpuTime is not measured outside Linux.
func cpuTime() time.Duration { return 0 }

// vmHWM is Linux's: elsewhere the benchmarks report peak-Go-MB only.
func vmHWM() (int64, error) { return 0, errors.New("VmHWM is Linux only") }
