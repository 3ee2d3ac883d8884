//go:build windows

// Command bench measures ppsync against the emulator; it drives the daemon
// as a child process and reads /proc and Unix resource usage, so it runs on
// Linux (and, for the scenarios that need no /proc, other Unix systems).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: the benchmarks run on Linux or another Unix system, not on Windows; run them there (see docs/performance.md)")
	os.Exit(2)
}
