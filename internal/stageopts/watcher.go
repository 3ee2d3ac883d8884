package stageopts

import (
	"slices"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/watcher"
)

// Watcher returns what the watcher needs of inbox in: its folder, its
// globs, ppsync's own folders inside it, and how and how often it is
// watched. The globs are copied: the watcher never shares the config's
// slices.
func Watcher(in config.Inbox) watcher.Inbox {
	return watcher.Inbox{
		Path:            in.Path,
		ParserID:        in.ParserID,
		Recursive:       in.Recursive,
		Include:         slices.Clone(in.Include),
		Exclude:         slices.Clone(in.Exclude),
		ProcessedDir:    in.ProcessedDir,
		FailedDir:       in.FailedDir,
		Settle:          in.Settle.Duration,
		IncompleteAfter: in.IncompleteAfter.Duration,
		Watch:           in.Watch,
		RescanInterval:  in.RescanInterval.Duration,
	}
}
