// Package watcher decides which files in an inbox are ready: fsnotify
// events as hints, a scan at start-up and a periodic rescan as the truth,
// then a settle period (size and mtime unchanged) and a %%EOF check. It
// never hashes, uploads or opens the state.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/fsinfo"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/winpath"
)

// Kind says what happened to a file.
type Kind int

// Event kinds.
const (
	Ready      Kind = iota // settled and complete: process it
	Incomplete             // unchanged for incomplete_after but still empty, a PDF without %%EOF or a cut-off image
	Gone                   // a file reported earlier disappeared
)

func (k Kind) String() string {
	return [...]string{"ready", "incomplete", "gone"}[k]
}

// Event is one file's news.
type Event struct {
	Kind    Kind
	Inbox   int
	Path    string
	Size    int64
	ModTime time.Time
	// Identity names this life of the file where the filesystem can be
	// trusted to tell one (inode and ctime on a local unix filesystem):
	// a file replaced or rewritten in place with the same size and mtime
	// has another. "" where it cannot (Windows, network filesystems): the
	// content's fingerprint tells then (see fileid).
	Identity string
	Reason   string // for Incomplete
	// Seen is the first moment the file could have been seen (see
	// Watcher.seen): where the drop-to-result clock starts. Zero for Gone.
	Seen time.Time
}

// Status is an inbox's health, for logs and `ppsync status`.
type Status struct {
	Path     string    `json:"path"`
	Mode     string    `json:"mode"` // events+rescan, poll, once
	Healthy  bool      `json:"healthy"`
	Error    string    `json:"error,omitempty"`
	LastScan time.Time `json:"last_scan,omitzero"`
	Settling int       `json:"settling"`
	// Incomplete counts the settling files that stopped changing but are
	// still empty, PDFs without %%EOF or cut-off images (waiting for
	// incomplete_after).
	Incomplete int `json:"incomplete"`
	Tracked    int `json:"tracked"`
	Rescans    int `json:"rescans"`
	Overflows  int `json:"overflows"`
	// Unreadable lists what the last full scan could not read inside the
	// inbox (folders or entries), each with the reason.
	Unreadable []string `json:"unreadable,omitempty"`
	// WatchReason says why the inbox is watched as Mode says (a network
	// filesystem polled from the start, events that never came...).
	WatchReason string `json:"watch_reason,omitempty"`
	// RescanEvery is the current time between rescans.
	RescanEvery time.Duration `json:"rescan_every,omitempty"`
	// LastListing is how long the last full listing took, LastListed how
	// many entries it read and LastStats how many of them it stat'ed (on a
	// share a stat is a round trip to the server).
	LastListing time.Duration `json:"last_listing,omitempty"`
	LastListed  int           `json:"last_listed,omitempty"`
	LastStats   int           `json:"last_stats,omitempty"`
	// Sweeps counts the listings that stat'ed every document (all of them
	// but on a network inbox polled in watch = "auto", where listings in
	// between stat new names only).
	Sweeps int `json:"sweeps,omitempty"`
}

// Options configures one inbox's watcher.
type Options struct {
	Index int
	Inbox Inbox
	// Once scans once, settles what it found, reports it and returns.
	Once bool
	// Known is how many files the state knows in the inbox (still there
	// when ppsync last looked): an empty folder then is a share not
	// mounted, not an empty inbox (see Reachable).
	Known  int
	Logger *slog.Logger
	// FS tells the filesystem of a folder (fsinfo.Of when nil): a network
	// or FUSE filesystem is polled from the start in watch = "auto".
	FS func(path string) (fsinfo.Info, error)
}

// Watcher watches one inbox.
type Watcher struct {
	o      Options
	in     Inbox
	filter *Filter
	log    *slog.Logger

	mu     sync.Mutex
	status Status
	forget []string // paths to report again (guarded by mu)
	// forgotten wakes Run when Forget adds a path while no tick runs.
	forgotten chan struct{}
	// ticks counts the settle ticks handled (tests).
	ticks  atomic.Int64
	unread []string // entries the last full scan could not read (guarded by mu)
	// unreadTransient: one of them failed with an I/O-like error, which a
	// second look may not meet (guarded by mu).
	unreadTransient bool
	// mountDev is the device of the inbox when it is a mount point (guarded by mu).
	mountDev uint64
	// known is how many reported files the watcher knows in the inbox.
	known atomic.Int64

	fsw        *fsnotify.Watcher
	fast       *fastLane       // files closed by their writer or renamed in (Linux); nil elsewhere
	announced  map[string]bool // paths an event named since the last scan
	scans      int
	warnedMiss bool
	// healing is set during the first scan after the inbox was unreachable:
	// files that appeared meanwhile had no event to announce them.
	healing bool
	rescan  time.Duration
	// epoch is when the watcher was built: the origin of clock.
	epoch time.Time
	// deaf drops every fsnotify event (tests: a share that sends none).
	deaf bool
	// trustID is set when the inbox's filesystem tells a file's lives
	// apart by inode and ctime (see Event.Identity).
	trustID bool
	// fsys is the inbox's filesystem (fsErr when it could not be told).
	fsys  fsinfo.Info
	fsErr error
	// adaptive is set when the rescan cadence follows the listing's cost
	// (a network inbox polled in watch = "auto").
	adaptive bool
	// light is set during a listing that stats new names only (see
	// scanWalk); swept is when the last listing that stats every document
	// began; cost is what the last full listing cost.
	light bool
	swept time.Time
	cost  listingCost
	// logged is the cadence last logged (adaptive inboxes).
	logged time.Duration
	// begins are when the last keptListings listings began, oldest first
	// (see listingFloor).
	begins []time.Time
	// lstat stats an entry (lstatPath; tests emulate a share with it).
	lstat func(p string) (stamp, fileKind, error)
	// listed is when the first full listing ended (zero before): files
	// sighted earlier are the backlog found at start.
	listed time.Time
	// samples are the content fingerprints of settling files where the
	// stamp may miss a write (!trustID; see sampleContent).
	samples map[string]uint64
	// cands are the files settling, emitted the files reported (with the
	// stamp they were reported with); both intern their folders in dirs.
	// Only Run's goroutine touches them.
	dirs    *folders
	cands   *table[cand]
	emitted *table[stamp]
}

// stamp is what tells a changed file: size, mtime (unix nanoseconds) and
// identity (a hash of inode and ctime where the system gives them, else
// 0), fixed-width so a rescan compares without allocating.
type stamp struct {
	size  int64
	mtime int64
	id    uint64
}

// cand is a settling file: its last stamp, since when it has held and when
// this life of it was first sighted (both on w.clock, immune to changes of
// the wall clock). The two times share one word (see times).
type cand struct {
	stamp
	times times
}

// New builds a watcher for one inbox.
func New(o Options) *Watcher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dirs := newFolders()
	if o.FS == nil {
		o.FS = fsinfo.Of
	}
	info, ferr := o.FS(o.Inbox.Path)
	w := &Watcher{
		o:         o,
		in:        o.Inbox,
		filter:    NewFilter(o.Inbox),
		log:       o.Logger.With("inbox", o.Inbox.Path),
		dirs:      dirs,
		cands:     newTable[cand](dirs),
		emitted:   newTable[stamp](dirs),
		announced: map[string]bool{},
		forgotten: make(chan struct{}, 1),
		rescan:    o.Inbox.RescanInterval,
		epoch:     time.Now(),
		trustID:   ferr == nil && !info.Network,
		fsys:      info,
		fsErr:     ferr,
		lstat:     lstatPath,
	}
	if !w.trustID {
		w.samples = map[string]uint64{}
	}
	w.status = Status{Path: o.Inbox.Path, Healthy: true}
	w.known.Store(int64(o.Known))
	return w
}

// Status returns a snapshot of the inbox's health.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *Watcher) setStatus(f func(*Status)) {
	w.mu.Lock()
	f(&w.status)
	w.status.Settling = w.cands.len()
	w.status.Tracked = w.emitted.len()
	w.mu.Unlock()
	w.known.Store(int64(w.emitted.len()))
}

// dropTables lets the tables go once a run that reports each file once
// (Once) has reported them all: nothing reads them any more, and during a
// backlog they are a third of the heap for the rest of the run, while the
// files are sent. Status keeps the last counts.
func (w *Watcher) dropTables() {
	w.setStatus(func(*Status) {})
	w.dirs = newFolders()
	w.cands, w.emitted = newTable[cand](w.dirs), newTable[stamp](w.dirs)
}

// Forget makes the watcher report path again at the next scan even if it
// has not changed (used to send a failed file through again).
func (w *Watcher) Forget(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// emitted is only touched by Run's goroutine; hand the request over.
	w.forget = append(w.forget, path)
	select {
	case w.forgotten <- struct{}{}:
	default:
	}
}

func (w *Watcher) applyForget() {
	w.mu.Lock()
	paths := w.forget
	w.forget = nil
	w.mu.Unlock()
	for _, p := range paths {
		w.emitted.del(p)
		if w.matches(p) {
			w.observe(p)
		}
	}
}

// Run watches until ctx ends (or, with Once, until every file found at
// start-up was reported). Events go to out.
func (w *Watcher) Run(ctx context.Context, out chan<- Event) error {
	mode := w.in.Watch
	d := Decide(w.in, w.fsys, w.fsErr)
	switch {
	case w.o.Once:
		mode = "once"
	case d.Adaptive:
		mode, w.adaptive = d.Mode, true
		w.rescan = min(pollFloor, w.in.RescanInterval)
	}
	if mode == WatchAuto || mode == WatchEvents {
		if err := w.startEvents(); err != nil {
			if mode == WatchEvents {
				w.log.Error("cannot watch for file events; falling back to rescanning", "error", err, "rescan_interval", w.rescan)
			} else {
				w.log.Warn("file events unavailable; finding files by rescanning", "error", err, "rescan_interval", w.rescan)
			}
			mode = WatchPoll
		} else {
			defer w.fsw.Close()
			defer w.fast.close()
			mode = "events+rescan"
		}
	}
	if mode == WatchPoll && d.Mode != WatchPoll {
		d.Reason = "change events are unavailable: the folder is listed every " + w.rescan.String()
	}
	w.setStatus(func(s *Status) { s.Mode, s.WatchReason, s.RescanEvery = mode, d.Reason, w.rescan })
	w.log.Info("watching inbox", "mode", mode, "why", d.Reason, "parser_id", w.in.ParserID, "recursive", w.in.Recursive,
		"settle", w.in.Settle, "rescan_interval", w.rescan)

	// An unreachable inbox is retried with back-off: 1 s, doubling up to
	// rescan_interval.
	var retry time.Duration
	next := func(err error) time.Duration {
		if err == nil {
			retry = 0
			return w.rescan
		}
		retry = clamp(retry*2, time.Second, max(w.rescan, time.Second))
		return retry
	}
	firstErr := w.scan(ctx, out)
	if firstErr != nil && w.o.Once {
		return firstErr
	}
	// Settling is checked often (a stat per settling file): the tick adds
	// directly to every file's latency. It runs only while files settle:
	// an idle watcher sleeps until an event, a scan or a Forget.
	tick := clamp(w.in.Settle/10, 25*time.Millisecond, 200*time.Millisecond)
	settle := time.NewTicker(tick)
	defer settle.Stop()
	ticking := true
	rescan := time.NewTimer(next(firstErr))
	defer rescan.Stop()
	var evc chan fsnotify.Event
	var errc chan error
	if w.fsw != nil {
		evc, errc = w.fsw.Events, w.fsw.Errors
	}
	retried := 0
	for {
		if w.o.Once && w.cands.len() == 0 {
			// An entry the listing could not read for an I/O error (a
			// share under load answering a stat with EIO) is looked at
			// again before the run ends; one denied by its permissions
			// is not (a second look meets the same answer). What stays
			// unreadable is in Status.Unreadable: the run reports it.
			if w.transientlyUnreadable() && retried < onceRetries {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(onceRetryWait << retried):
				}
				retried++
				if err := w.scan(ctx, out); err != nil {
					return err
				}
				continue
			}
			w.dropTables()
			return nil
		}
		switch n := w.cands.len(); {
		case n == 0 && ticking:
			// What a tick would have tidied with nothing left settling.
			w.pruneSamples()
			w.setStatus(func(st *Status) { st.Incomplete = 0 })
			settle.Stop()
			ticking = false
		case n > 0 && !ticking:
			settle.Reset(tick)
			ticking = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.forgotten:
			w.applyForget()
		case ev, ok := <-evc:
			if !ok {
				evc = nil
				continue
			}
			if !w.deaf {
				w.onEvent(ctx, ev, out)
			}
		case p := <-w.fast.paths():
			w.onClosed(p)
		case <-w.fast.due():
			w.confirmClosed(ctx, out)
		case err, ok := <-errc:
			if !ok {
				errc = nil
				continue
			}
			w.onWatchError(ctx, err, out)
		case <-settle.C:
			w.ticks.Add(1)
			w.applyForget()
			w.check(ctx, out)
		case <-rescan.C:
			if w.o.Once {
				continue
			}
			rescan.Reset(next(w.scan(ctx, out)))
		}
	}
}

// A run that reports each file once (Options.Once) lists its inbox again
// up to onceRetries times when an entry could not be read, after a pause
// of onceRetryWait, doubled each time; what is still unreadable after them
// stays in Status.Unreadable.
const (
	onceRetries   = 3
	onceRetryWait = time.Second
)

// clock is the monotonic time since the watcher was built, in
// nanoseconds: what a candidate's times are measured on.
func (w *Watcher) clock() int64 { return int64(time.Since(w.epoch)) }

func clamp(d, lo, hi time.Duration) time.Duration { return max(lo, min(d, hi)) }

func (w *Watcher) startEvents() error {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return watchErr(err)
	}
	w.fsw = fsw
	w.fast = newFastLane(w.log)
	if w.Reachable() != nil {
		return nil // watched once it is back (see scan)
	}
	if err := w.addTree(w.in.Path); err != nil {
		fsw.Close()
		w.fast.close()
		w.fsw, w.fast = nil, nil
		return err
	}
	return nil
}

func (w *Watcher) addTree(root string) error {
	if err := w.fsw.Add(winpath.Sys(root)); err != nil {
		return watchErr(err)
	}
	w.fast.add(root)
	if !w.in.Recursive {
		return nil
	}
	xroot := winpath.Extended(root) // names ending in a dot or a space, on Windows
	return filepath.WalkDir(xroot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == xroot || !d.IsDir() {
			return nil
		}
		p = winpath.Plain(p)
		if w.skipDir(p) {
			return filepath.SkipDir
		}
		if err := w.fsw.Add(winpath.Sys(p)); err != nil {
			return watchErr(err)
		}
		w.fast.add(p)
		return nil
	})
}

// watchErr turns the kernel's watch-limit errors into advice.
func watchErr(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: the inotify watch limit is reached; raise it with sysctl fs.inotify.max_user_watches=524288 (and max_user_instances), or set watch = \"poll\"", err)
	case errors.Is(err, syscall.EMFILE):
		return fmt.Errorf("%w: too many open files; raise the limit (systemd LimitNOFILE=65536) or set watch = \"poll\"", err)
	}
	return err
}

func (w *Watcher) onWatchError(ctx context.Context, err error, out chan<- Event) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.setStatus(func(s *Status) { s.Overflows++ })
		w.log.Warn("file event queue overflowed (a burst of files); rescanning so nothing is missed", "error", err)
	} else {
		w.log.Warn("file watcher error; rescanning", "error", watchErr(err))
	}
	_ = w.scan(ctx, out)
}

func (w *Watcher) onEvent(ctx context.Context, ev fsnotify.Event, out chan<- Event) {
	if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) {
		return // Spotlight, antivirus and backup tools touch modes constantly
	}
	p := winpath.Plain(ev.Name)
	w.announced[p] = true
	if ev.Has(fsnotify.Create) && w.in.Recursive {
		if st, err := os.Lstat(winpath.Sys(p)); err == nil && st.IsDir() && !w.skipDir(p) {
			// Watch the new folder first, then scan it: files created in
			// between produce no event.
			if err := w.addTree(p); err != nil {
				w.log.Warn("cannot watch new subfolder; it is still rescanned", "folder", p, "error", err)
			}
			_ = w.scanTree(ctx, p, out, false)
			return
		}
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if _, err := os.Lstat(winpath.Sys(p)); errors.Is(err, os.ErrNotExist) {
			w.vanished(ctx, p, out)
			return
		}
	}
	if !w.matches(p) {
		return
	}
	if !w.trustID && ev.Has(fsnotify.Write) {
		// Size and mtime may be all this filesystem tells: a write to a
		// reported file is reported again once it settles, and the
		// uploader compares its content's fingerprint.
		w.emitted.del(p)
	}
	w.observe(p)
}

// observe stats p and (re)starts its settle period if it is new or changed.
func (w *Watcher) observe(p string) {
	s, kind, err := w.lstat(p)
	if err != nil || kind != kindFile {
		return // symlinks are never followed
	}
	w.observeStamp(p, s)
}

// observeStamp makes p a candidate unless it was reported with stamp s.
// p may point into a scan's buffer: it is copied only when kept.
func (w *Watcher) observeStamp(p string, s stamp) {
	if e, ok := w.emitted.get(p); ok && e == s {
		return
	}
	if c := w.cands.ptr(p); c != nil {
		if c.stamp != s {
			c.stamp = s
			c.times.restart(w.clock())
			w.unsample(p)
		}
		return
	}
	w.cands.set(p, w.newCand(s))
	w.setStatus(func(*Status) {})
}

func (w *Watcher) vanished(ctx context.Context, p string, out chan<- Event) {
	w.cands.del(p)
	w.unsample(p)
	if w.emitted.del(p) {
		w.send(ctx, out, Event{Kind: Gone, Inbox: w.o.Index, Path: strings.Clone(p)})
	}
	if w.in.Recursive {
		// A removed folder takes its files with it.
		prefix := p + string(filepath.Separator)
		w.emitted.delUnder(prefix, func(q string) {
			w.send(ctx, out, Event{Kind: Gone, Inbox: w.o.Index, Path: strings.Clone(q)})
		})
		w.cands.delUnder(prefix, nil)
	}
	w.setStatus(func(*Status) {})
}

// check promotes settled candidates.
func (w *Watcher) check(ctx context.Context, out chan<- Event) {
	now := w.clock()
	waiting := 0
	// p points into the iteration's buffer: events get a copy.
	for p, c := range w.cands.all() {
		s, kind, err := w.lstat(p)
		if err != nil || kind != kindFile {
			w.cands.del(p)
			w.unsample(p)
			continue
		}
		if s != c.stamp {
			c.stamp = s
			c.times.restart(now)
			w.unsample(p)
			continue
		}
		held := c.times.held(now)
		if !w.settled(p, c, held) {
			continue
		}
		reason := w.incomplete(p, s.size)
		if reason == "" {
			seen := w.seen(p, c)
			w.cands.del(p)
			w.unsample(p)
			w.emitted.set(p, s)
			w.setStatus(func(*Status) {}) // counted once: reported, no longer settling
			w.send(ctx, out, Event{Kind: Ready, Inbox: w.o.Index, Path: strings.Clone(p), Size: s.size, ModTime: time.Unix(0, s.mtime), Identity: w.identity(s), Seen: seen})
			continue
		}
		if w.o.Once || held >= w.in.IncompleteAfter {
			seen := w.seen(p, c)
			w.cands.del(p)
			w.unsample(p)
			w.emitted.set(p, s)
			w.setStatus(func(*Status) {})
			w.send(ctx, out, Event{Kind: Incomplete, Inbox: w.o.Index, Path: strings.Clone(p), Size: s.size, ModTime: time.Unix(0, s.mtime), Reason: reason, Seen: seen})
			continue
		}
		waiting++
	}
	w.pruneSamples()
	w.setStatus(func(st *Status) { st.Incomplete = waiting })
}

// incomplete says why a settled file is not finished yet ("" if it is):
// it is empty, a PDF without its %%EOF trailer, or an image whose structure
// stops before its end (filecheck.Complete).
func (w *Watcher) incomplete(p string, size int64) string {
	if size == 0 {
		return fmt.Sprintf("the file is still empty after %s: a scanner or copy that never finished writing it? Drop a complete copy again", w.waited())
	}
	c, err := filecheck.Complete(p)
	if err != nil || c.Complete {
		return "" // a read error is reported by the uploader
	}
	what := "file"
	switch c.Kind {
	case filecheck.KindPDF:
		what = "PDF"
	case filecheck.KindPNG, filecheck.KindJPEG, filecheck.KindWebP:
		what = strings.ToUpper(string(c.Kind)) + " image"
	}
	return fmt.Sprintf("the %s still lacks %s after %s: the copy or scan was interrupted; drop a complete copy again", what, c.Missing, w.waited())
}

func (w *Watcher) waited() time.Duration {
	if w.o.Once {
		return w.in.Settle
	}
	return w.in.IncompleteAfter
}

func (w *Watcher) send(ctx context.Context, out chan<- Event, ev Event) {
	select {
	case out <- ev:
	case <-ctx.Done():
	}
}

// scan walks the inbox: new and changed files become candidates, reported
// files that disappeared are Gone. An unreachable inbox is an error state:
// nothing known about it is forgotten.
func (w *Watcher) scan(ctx context.Context, out chan<- Event) error {
	w.drainEvents(ctx, out)
	was := w.Status()
	err := w.reach()
	began := time.Now()
	if err == nil {
		if !was.Healthy && w.fsw != nil {
			// Watch first, then walk: files created in between are seen either way.
			if aerr := w.addTree(w.in.Path); aerr != nil {
				w.log.Warn("cannot re-watch inbox; relying on rescans", "error", aerr)
			}
		}
		w.healing = !was.Healthy
		// A light listing (adaptive inboxes only) stats new names alone;
		// every rescan_interval, and after the inbox was unreachable, a
		// sweep stats every document again, so one rewritten in place under
		// its name is seen.
		w.light = w.adaptive && w.scans > 0 && was.Healthy && began.Sub(w.swept) < w.in.RescanInterval
		err = w.scanTree(ctx, w.in.Path, out, true)
		w.healing = false
		if err == nil && !w.light {
			w.swept = began
		}
	}
	w.scans++
	clear(w.announced)
	if err != nil {
		w.fault(err)
		return err
	}
	took := time.Since(began)
	w.adapt(took)
	if len(w.begins) == keptListings {
		w.begins = append(w.begins[:0], w.begins[1:]...)
	}
	w.begins = append(w.begins, began)
	if w.listed.IsZero() {
		w.listed = time.Now()
	}
	w.setStatus(func(s *Status) {
		// Only a listing that began unreachable heals (it re-watched and
		// swept): a fault another part reported while this one ran stays
		// for the next.
		if !was.Healthy {
			s.Healthy, s.Error = true, ""
		}
		s.LastScan = time.Now()
		s.Rescans++
		s.RescanEvery = w.rescan
		s.LastListing, s.LastListed, s.LastStats = took, w.cost.entries, w.cost.stats
		if !w.light {
			s.Sweeps++
		}
	})
	if !was.Healthy {
		w.log.Info("inbox is reachable again", "was", was.Error)
	}
	return nil
}

// drainEvents handles queued events first, so a scan never mistakes a file
// whose event is still in the queue for one the events missed.
func (w *Watcher) drainEvents(ctx context.Context, out chan<- Event) {
	if w.fsw == nil {
		return
	}
	for {
		select {
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if !w.deaf {
				w.onEvent(ctx, ev, out)
			}
		default:
			return
		}
	}
}

func (w *Watcher) scanTree(ctx context.Context, root string, out chan<- Event, full bool) error {
	seen := 0 // reported files the walk found; fewer than reported means some vanished
	var missed, unreadable, unreadPaths []string
	transient := false // an entry failed with an I/O-like error, not a permission
	light := full && w.light
	var cost listingCost
	walkErr := w.scanWalk(ctx, root, light, &cost, func(p string, s stamp, statted bool) {
		if !statted {
			// Known, listed by name only (a light listing).
			if w.emitted.has(p) {
				seen++
			}
			return
		}
		if w.emitted.has(p) {
			seen++
		} else if !w.cands.has(p) && full && !w.healing && w.fsw != nil && w.scans > 0 && !w.announced[p] {
			missed = append(missed, strings.Clone(p))
		}
		w.observeStamp(p, s)
	}, func(p string, err error) {
		// What went wrong in words that fit it: an I/O error is the share
		// or disk, only a permission error asks for access.
		unreadable = append(unreadable, results.Describe("reading", p, err).Error())
		unreadPaths = append(unreadPaths, p)
		transient = transient || results.Unreachable(err)
		if !w.wasUnreadable(p) {
			w.log.Warn("cannot read inside inbox; skipping it until it can be read", "path", p, "error", err)
		}
	})
	if walkErr != nil {
		return walkErr
	}
	if full {
		w.cost = cost
		w.setStatus(func(s *Status) { s.Unreadable = unreadable })
		w.mu.Lock()
		w.unread, w.unreadTransient = unreadPaths, transient
		w.mu.Unlock()
		if seen < w.emitted.len() {
			// p points into the iteration's buffer; vanished copies what it keeps.
			for p := range w.emitted.all() {
				if _, err := os.Lstat(winpath.Sys(p)); errors.Is(err, os.ErrNotExist) {
					w.vanished(ctx, p, out)
				}
			}
		}
		if len(missed) > 0 && !w.warnedMiss && w.in.Watch == WatchAuto {
			w.warnedMiss = true
			fast := min(w.rescan, 10*time.Second)
			w.log.Warn("files appeared without a change event: this inbox looks like a network share that sends no events. "+
				"ppsync finds them by rescanning; set watch = \"poll\" and rescan_interval = \"10s\" for this inbox to make that explicit",
				"example", missed[0], "missed", len(missed), "rescanning_every", fast)
			w.rescan = fast
			w.setStatus(func(s *Status) {
				s.Mode, s.RescanEvery = "poll (no events seen)", fast
				s.WatchReason = fmt.Sprintf("files appeared without a change event (%s): the folder is listed every %s", missed[0], fast)
			})
		}
	}
	return nil
}

// transientlyUnreadable reports whether the last full scan could not read
// an entry for an I/O-like error (see results.Unreachable).
func (w *Watcher) transientlyUnreadable() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unreadTransient
}

// wasUnreadable reports whether the last full scan could not read p either
// (it is logged once, not at every rescan).
func (w *Watcher) wasUnreadable(p string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.unread, p)
}

func (w *Watcher) skipDir(p string) bool { return w.filter.SkipDir(p) }

// matches reports whether p, named by an event or a retry, is one of the
// inbox's documents.
func (w *Watcher) matches(p string) bool {
	return w.filter.File(p) && !w.filter.Inside(p)
}
