package watcher

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/winpath"
)

// ErrUnmounted means the filesystem mounted on an inbox went away: the
// folder is back on its parent's filesystem (an empty mount point).
var ErrUnmounted = errors.New("the filesystem mounted there is gone")

// ErrVanished means everything known in an inbox disappeared at once.
var ErrVanished = errors.New("everything in the inbox vanished at once")

// Reachable checks that the inbox can be worked on: it exists, is a
// folder, can be read, and, when it was a mount point, still is. An empty
// mount point is not an empty inbox: nothing is marked deleted and nothing
// is written into it while this fails.
//
// Whoever finds the inbox unreachable (a rescan, the result writer, the
// lease) reports it through here, so an outage is logged once, by the
// watcher, when it begins, and once when a rescan finds the inbox again;
// the callers log their own part of it at debug level.
func (w *Watcher) Reachable() error {
	err := w.reach()
	if err != nil {
		w.fault(err)
	}
	return err
}

// fault marks the inbox unreachable with err; the first fault of an
// outage is logged. The next rescan that reaches the inbox heals it.
func (w *Watcher) fault(err error) {
	w.mu.Lock()
	first, every := w.status.Healthy, w.status.RescanEvery
	w.status.Healthy, w.status.Error = false, err.Error()
	w.mu.Unlock()
	if first {
		w.log.Error("inbox is unreachable; nothing in it is marked deleted, the other inboxes go on, and it is retried",
			"error", err, "retry_in", every)
	}
}

// reach is Reachable's check, without reporting.
func (w *Watcher) reach() error {
	root := w.in.Path
	st, err := os.Stat(winpath.Sys(root))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// What happened, said once: an I/O error (a share gone) is not a
		// question of access.
		return fmt.Errorf("inbox: %w", results.Describe("reading", root, err))
	}
	if err != nil {
		return fmt.Errorf("inbox %s: %w: check that the folder exists, that its share is mounted and that the ppsync user may read it", root, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("inbox %s is not a folder: fix [[inbox]] path or move the file away", root)
	}
	f, err := os.Open(winpath.Sys(root))
	if err != nil {
		return fmt.Errorf("inbox: %w", results.Describe("reading", root, err)) // path once; access advice only for permission errors
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("inbox: cannot list it: %w", results.Describe("reading", root, err))
	}
	if len(names) == 0 && w.known.Load() > 0 {
		// Every file seen in it, the lease file and the results too, gone at
		// once: a share that went away leaves exactly this.
		return fmt.Errorf("inbox %s: %w: a share that went away? Nothing in it is marked deleted; "+
			"if you emptied it on purpose, drop a file into it and ppsync resumes", root, ErrVanished)
	}
	dev, derr := deviceOf(root)
	parent, perr := deviceOf(filepath.Dir(root))
	if derr != nil || perr != nil || dev == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case dev != parent:
		w.mountDev = dev // a mount point: remembered, so its loss is seen
	case w.mountDev != 0:
		return fmt.Errorf("inbox %s: %w (the folder is an empty mount point now): remount the share; ppsync resumes by itself", root, ErrUnmounted)
	}
	return nil
}
