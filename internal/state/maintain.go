package state

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ppsync/ppsync/internal/winpath"
)

// DefaultPruneEvery is how often a running daemon prunes its state.
const DefaultPruneEvery = 24 * time.Hour

// mappedReleaseEvery is how long after a record is first read or written
// since the last look the maintainer looks at how much of the state is
// mapped (Store.ReleaseTouched), and hands the mapped pages back to the
// page cache when they are over the budget (mappedBudget): at most every
// mappedReleaseEvery while the state is used, never while it is not (an
// idle daemon does not wake for it). Reads and writes through the store
// look themselves once 64 records were touched since the last look
// (checkBatch), so what this catches is what fewer than 64 records mapped
// over the budget, and how long it waits bounds only how long that stays
// mapped, not how much is.
const mappedReleaseEvery = 100 * time.Millisecond

// MaintainOptions configures a Maintainer.
type MaintainOptions struct {
	// Roots are the configured inboxes' roots: a root that is not a
	// reachable folder (an unmounted share) keeps every record under it.
	Roots []string
	// Retention is how long finished records are kept (Prune).
	Retention time.Duration
	// Every is how often the state is pruned after the first prune at the
	// start of Run (DefaultPruneEvery when zero).
	Every time.Duration
	Log   *slog.Logger
}

// Maintainer keeps a running daemon's state file small and checked: it
// compacts it at start-up when it needs it, checks every record once,
// prunes it now and then every interval, and hands back the mapped pages
// that lookups read.
type Maintainer struct {
	st      *Store
	o       MaintainOptions
	checked chan struct{}
	once    sync.Once
	wakes   atomic.Int64 // looks at the mapped pages (tests)
}

// NewMaintainer maintains st.
func NewMaintainer(st *Store, o MaintainOptions) *Maintainer {
	if o.Every <= 0 {
		o.Every = DefaultPruneEvery
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Maintainer{st: st, o: o, checked: make(chan struct{})}
}

// Checked is closed once Run has checked every record of the state (or
// has stopped before it could).
func (m *Maintainer) Checked() <-chan struct{} { return m.checked }

// Recover compacts the state file in place, before the stages use it, when
// free pages pass CompactRatio and CompactMinSize; a state that needs none
// costs a stat of the file. A failed compaction is logged and the daemon
// goes on with the file as it was: it never fails.
func (m *Maintainer) Recover(context.Context) error {
	start := time.Now()
	done, cs, err := m.st.CompactIfNeeded()
	switch {
	case err != nil:
		m.o.Log.Warn("cannot compact the state file; going on with it as it is", "state", m.st.Path(), "error", err)
	case done:
		m.o.Log.Info("compacted the state file", "state", m.st.Path(), "before_bytes", cs.Before, "after_bytes", cs.After,
			"free_bytes_before", cs.FreeBefore, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// Run checks every record of the state, its index and its tallies as
// 'ppsync state check' does (bbolt's own page check aside: it must not run
// beside writes) while the stages run: damage shows in Store.Damaged. It
// keeps the state small until ctx ends: it prunes now and then every
// interval, compacting the file in place when pruning left most of it
// free, and every mappedReleaseEvery hands the pages of the state file
// that lookups have read back to the page cache when they are over the
// budget, so a large state does not stay counted in the daemon's memory.
// Prune works in small transactions, so the stages go on meanwhile; they
// pause while the file is compacted.
func (m *Maintainer) Run(ctx context.Context) error {
	if ctx.Err() != nil { // the run never started: nothing to check or keep
		m.once.Do(func() { close(m.checked) })
		return nil
	}
	var check sync.WaitGroup
	check.Go(func() {
		defer m.once.Do(func() { close(m.checked) })
		began := time.Now()
		if err := m.st.CheckRecords(); err == nil {
			m.o.Log.Debug("state checked", "state", m.st.Path(), "took", time.Since(began))
		}
	})
	defer check.Wait()
	m.maintain(ctx)
	return nil
}

func (m *Maintainer) maintain(ctx context.Context) {
	st, log, path := m.st, m.o.Log, m.st.Path()
	exists := pruneExists(m.o.Roots)
	prune := time.NewTimer(0)
	defer prune.Stop()
	release := time.NewTimer(mappedReleaseEvery)
	release.Stop()
	defer release.Stop()
	looking := false // a look is due when release fires
	defer func() {
		log.Debug("handed the state file's mapped pages back", "state", path, "releases", st.Releases(),
			"looks", st.ReleaseChecks(), "budget_bytes", mappedBudget)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.Touched():
			if !looking {
				looking = true
				release.Reset(mappedReleaseEvery)
			}
			continue
		case <-release.C:
			looking = false
			m.wakes.Add(1)
			// Only after transactions that did not look as they ended.
			if _, err := st.ReleaseTouched(); err != nil {
				log.Debug("cannot release the state file's mapped pages", "state", path, "error", err)
			}
			continue
		case <-prune.C:
		}
		start := time.Now()
		ps, err := st.Prune(ctx, start, m.o.Retention, exists)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Error("cannot prune the state file; trying again at the next interval", "state", path, "error", err)
		case ps.Files+ps.Docs > 0:
			log.Info("pruned the state file", "state", path, "files", ps.Files, "documents", ps.Docs,
				"scanned", ps.Scanned, "compactions", ps.Compactions, "took", time.Since(start).Round(time.Millisecond))
		default:
			log.Debug("pruned the state file", "state", path, "files", 0, "documents", 0, "scanned", ps.Scanned,
				"took", time.Since(start).Round(time.Millisecond))
		}
		if ps.Compactions > 0 {
			log.Info("compacted the state file while pruning", "state", path, "compactions", ps.Compactions,
				"before_bytes", ps.SizeBefore, "after_bytes", ps.SizeAfter)
		}
		if ps.CompactErr != nil {
			log.Warn("cannot compact the state file; going on with it as it is", "state", path, "error", ps.CompactErr)
		}
		prune.Reset(m.o.Every)
	}
}

// pruneExists is Prune's exists: a configured inbox exists only while its
// root is a reachable folder (a missing root, as an unmounted share leaves
// it, keeps every record of that inbox); any other path is absent only when
// the system says it does not exist, never on another error.
func pruneExists(roots []string) func(string) bool {
	isRoot := make(map[string]bool, len(roots))
	for _, r := range roots {
		isRoot[r] = true
	}
	return func(p string) bool {
		if isRoot[p] {
			fi, err := os.Stat(winpath.Sys(p))
			return err == nil && fi.IsDir()
		}
		_, err := os.Lstat(winpath.Sys(p))
		return !errors.Is(err, os.ErrNotExist)
	}
}
