package reconcile

import (
	"context"
	"log/slog"

	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// Inbox is what Startup needs of an inbox.
type Inbox struct {
	Path      string
	Recursive bool
	// ResultsDir is where its results go ("" beside the files).
	ResultsDir string
}

// StartupOptions configures a Startup.
type StartupOptions struct {
	Store    *state.Store
	Inboxes  []Inbox
	Finisher *finish.Finisher
	// Reachable tells whether inbox i of Inboxes can be read now.
	Reachable func(i int) bool
	Log       *slog.Logger
}

// Startup is the daemon's start-up files component: its Recover squares
// the inboxes with the state before the stages run, its Run lets go of
// what an older state file still keeps.
type Startup struct{ o StartupOptions }

// NewStartup returns the start-up files component for o.
func NewStartup(o StartupOptions) *Startup { return &Startup{o} }

// Recover removes the temp files an interrupted run left, rebuilds the
// review queue and marks the files deleted while ppsync was down as gone.
// Its error is the state's.
func (s *Startup) Recover(ctx context.Context) error {
	log := s.o.Log
	for _, in := range s.o.Inboxes {
		if n, err := results.CleanTemp(in.Path, in.Recursive); err == nil && n > 0 {
			log.Info("removed temp files left by an interrupted run", "inbox", in.Path, "files", n)
		}
		if in.ResultsDir == "" {
			continue
		}
		if n, err := results.CleanTemp(in.ResultsDir, true); err == nil && n > 0 {
			log.Info("removed temp files left by an interrupted run", "results_dir", in.ResultsDir, "files", n)
		}
	}
	// The review queue and the duplicate index come from the files on
	// disk, before any result is written; the held results of an inbox
	// that cannot be read now are listed once a file of it is seen again.
	fin := s.o.Finisher
	if err := fin.RecoverReviews(ctx); err != nil {
		log.Warn("cannot read every held result at start; those are listed when their files are seen again", "error", err)
	}
	if n := len(fin.Held()); n > 0 {
		log.Info("results wait for review ('ppsync review list', or the status page)", "held", n)
	}
	reachable := map[string]bool{}
	for i, in := range s.o.Inboxes {
		reachable[in.Path] = s.o.Reachable(i)
	}
	return Missing(s.o.Store, func(inbox string) bool { return reachable[inbox] }, log)
}

// Run drops the results a state file written by an earlier version keeps
// for every document (they are in the result files); nothing when the run
// never started.
func (s *Startup) Run(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	n, err := s.o.Finisher.ReleaseStored(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.o.Log.Warn("cannot drop the results the state file keeps from an earlier version; trying again at the next start", "error", err)
	case n > 0:
		s.o.Log.Info("dropped the results the state file kept from an earlier version (they are in the result files); "+
			"the file shrinks when it is compacted at a later start, or with 'ppsync state compact'", "documents", n)
	}
	return nil
}
