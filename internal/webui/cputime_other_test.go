//go:build !unix

package webui

import "time"

// cpuTime is not measured here: the benchmark falls back to wall time.
func cpuTime() (time.Duration, bool) { return 0, false }
