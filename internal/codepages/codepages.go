// Package codepages keeps the program's own code out of its resident
// memory once it is no longer running it.
//
// Linux counts every page of the executable that the process has touched
// in its resident set, and maps the cached pages around each one it
// faults in (64 KiB on current kernels): start-up alone (reading the
// config, the templates, the command line, the packages' initialisation)
// leaves most of a 25 MB binary resident, about 20 MiB, for the daemon's
// whole life. Run hands those pages back now and then. They stay in the
// page cache: the next call into code that was released is a minor fault,
// and the code the daemon keeps running is back within a few faults.
package codepages

import (
	"context"
	"time"
)

// Every is how often Run hands the pages back.
const Every = 10 * time.Second

// Run finds the executable's read-only pages and hands them back every
// interval until ctx ends. Where the platform offers no way to do it, or
// the mappings cannot be read, it returns at once: the pages then stay
// counted, and nothing else changes.
func Run(ctx context.Context, every time.Duration) {
	p, err := Find()
	if err != nil || p == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_ = p.Release()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
