package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/winpath"
)

// DefaultPruneEvery is how often a running daemon prunes its state.
const DefaultPruneEvery = 24 * time.Hour

// compactAtStart compacts the state file in place before the stages use
// it when free pages pass state.CompactRatio and state.CompactMinSize; a
// state that needs none costs a stat of the file. A failed compaction is
// logged and the daemon goes on with the file as it was.
func compactAtStart(st *state.Store, log *slog.Logger) {
	start := time.Now()
	done, cs, err := st.CompactIfNeeded()
	switch {
	case err != nil:
		log.Warn("cannot compact the state file; going on with it as it is", "state", st.Path(), "error", err)
	case done:
		log.Info("compacted the state file", "state", st.Path(), "before_bytes", cs.Before, "after_bytes", cs.After,
			"free_bytes_before", cs.FreeBefore, "took", time.Since(start).Round(time.Millisecond))
	}
}

// pruneExists is Prune's exists: a configured inbox exists only while its
// root is a reachable folder (a missing root, as an unmounted share leaves
// it, keeps every record of that inbox); any other path is absent only when
// the system says it does not exist, never on another error.
func pruneExists(inboxes []config.Inbox) func(string) bool {
	roots := make(map[string]bool, len(inboxes))
	for _, in := range inboxes {
		roots[in.Path] = true
	}
	return func(p string) bool {
		if roots[p] {
			fi, err := os.Stat(winpath.Sys(p))
			return err == nil && fi.IsDir()
		}
		_, err := os.Lstat(winpath.Sys(p))
		return !errors.Is(err, os.ErrNotExist)
	}
}

// releaseEvery is how often the daemon hands the state's mapped pages back
// to the page cache (state.Store.ReleaseMapped), when it used the state
// since. Each read through the mapping maps the pages around it as well
// (the kernel's fault-around, 64 KiB), and a backlog reads some 1,000
// records a second; reads and writes through the store hand their pages
// back themselves, this catches what runs between. A release is one
// madvise, a few microseconds.
const releaseEvery = 5 * time.Millisecond

// maintain keeps the state small while the daemon runs: it prunes now
// (after recovery) and then every interval, compacting the file in place
// when pruning left most of it free, and every releaseEvery hands
// the pages of the state file that lookups have read back to the page
// cache, so a large state does not stay counted in the daemon's memory.
// Prune works in small transactions, so the stages go on meanwhile; they
// pause while the file is compacted.
func maintain(ctx context.Context, st *state.Store, cfg *config.Config, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = DefaultPruneEvery
	}
	exists := pruneExists(cfg.Inboxes)
	prune := time.NewTimer(0)
	defer prune.Stop()
	release := time.NewTicker(releaseEvery)
	defer release.Stop()
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-release.C:
			// Only after transactions: an idle daemon costs nothing here.
			n := st.Transactions()
			if n == seen {
				continue
			}
			seen = n
			if err := st.ReleaseMapped(); err != nil {
				log.Debug("cannot release the state file's mapped pages", "state", cfg.State.Path, "error", err)
			}
			continue
		case <-prune.C:
		}
		start := time.Now()
		ps, err := st.Prune(ctx, start, cfg.State.Retention.Duration, exists)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Error("cannot prune the state file; trying again at the next interval", "state", cfg.State.Path, "error", err)
		case ps.Files+ps.Docs > 0:
			log.Info("pruned the state file", "state", cfg.State.Path, "files", ps.Files, "documents", ps.Docs,
				"scanned", ps.Scanned, "compactions", ps.Compactions, "took", time.Since(start).Round(time.Millisecond))
		default:
			log.Debug("pruned the state file", "state", cfg.State.Path, "files", 0, "documents", 0, "scanned", ps.Scanned,
				"took", time.Since(start).Round(time.Millisecond))
		}
		if ps.Compactions > 0 {
			log.Info("compacted the state file while pruning", "state", cfg.State.Path, "compactions", ps.Compactions,
				"before_bytes", ps.SizeBefore, "after_bytes", ps.SizeAfter)
		}
		if ps.CompactErr != nil {
			log.Warn("cannot compact the state file; going on with it as it is", "state", cfg.State.Path, "error", ps.CompactErr)
		}
		prune.Reset(every)
	}
}
