package watcher

import "time"

// The watch modes of an inbox (Inbox.Watch), spelled as in the config's
// watch setting.
const (
	// WatchAuto uses change events with a rescan as a safety net, polls a
	// network or FUSE filesystem from the start, and falls back to polling
	// when events never come.
	WatchAuto = "auto"
	// WatchEvents uses change events and a rescan every RescanInterval.
	WatchEvents = "events"
	// WatchPoll lists the folder every RescanInterval.
	WatchPoll = "poll"
)

// Inbox is what the watcher needs of one inbox: where it is, which files
// are documents, and how it is watched. internal/stageopts builds it from
// the config's [[inbox]].
type Inbox struct {
	// Path is the inbox folder.
	Path string
	// ParserID is logged when watching starts.
	ParserID string
	// Recursive watches subfolders too.
	Recursive bool
	// Include and Exclude are the file-name globs (see Filter).
	Include, Exclude []string
	// ProcessedDir and FailedDir are ppsync's own folders, never scanned
	// (empty when unset).
	ProcessedDir, FailedDir string
	// Settle is how long a file must stay unchanged to be ready.
	Settle time.Duration
	// IncompleteAfter is how long a file may stay incomplete (a PDF
	// without its end) before it is reported anyway.
	IncompleteAfter time.Duration
	// Watch is WatchAuto, WatchEvents or WatchPoll.
	Watch string
	// RescanInterval is the time between rescans (in WatchPoll, between
	// listings).
	RescanInterval time.Duration
}
