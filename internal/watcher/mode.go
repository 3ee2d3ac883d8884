package watcher

import (
	"fmt"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/fileid"
	"github.com/ppsync/ppsync/internal/fsinfo"
)

// pollFloor is the shortest time between two listings of a network inbox
// polled in watch = "auto": a folder of a few thousand files is listed
// every pollFloor (see docs/watching.md for what a listing costs).
const pollFloor = 2 * time.Second

// pollCost is how many times its own duration a network inbox's listing
// waits before the next one: listing takes at most 1/pollCost of the time
// (and of the server's attention), so a tree twice as slow to list is
// listed half as often.
const pollCost = 4

// listingSlack is how long a file may exist before a listing shows it:
// SMB clients cache a folder's listing for up to 10 s.
const listingSlack = 10 * time.Second

// Decision is how an inbox is watched, and why.
type Decision struct {
	// Mode is what status and the page show: "events+rescan", "poll" or
	// "poll (network filesystem KIND)".
	Mode string
	// Reason says why, and how often the inbox is listed.
	Reason string
	// Adaptive is set when the rescan cadence follows the listing's cost
	// (pollFloor, pollCost) instead of rescan_interval.
	Adaptive bool
}

// Decide says how inbox in is watched on the filesystem info (err when it
// could not be told): in watch = "auto", a network or FUSE filesystem is
// polled from the start, since a share sends no change events for the
// files other machines write.
func Decide(in Inbox, info fsinfo.Info, err error) Decision {
	every := in.RescanInterval
	switch {
	case in.Watch == WatchPoll:
		return Decision{Mode: WatchPoll, Reason: fmt.Sprintf(`watch = "poll": the folder is listed every %s (rescan_interval)`, every)}
	case in.Watch == WatchAuto && err == nil && info.Network:
		return Decision{Mode: fmt.Sprintf("poll (network filesystem %s)", info.Kind), Adaptive: true,
			Reason: fmt.Sprintf("the folder is on a network or FUSE filesystem (%s), which sends no change events for files other machines write: "+
				"it is listed every %s from the start, less often when a listing takes longer (a listing takes at most 1/%d of the time; at most every %s, rescan_interval)",
				info.Kind, min(pollFloor, every), pollCost, max(every, pollFloor))}
	case in.Watch == WatchEvents:
		return Decision{Mode: "events+rescan", Reason: fmt.Sprintf(`watch = "events": change events, and a rescan every %s (rescan_interval)`, every)}
	case err != nil:
		return Decision{Mode: "events+rescan", Reason: fmt.Sprintf("the filesystem could not be told (%v): change events, a rescan every %s, and polling if files appear without events", err, every)}
	}
	return Decision{Mode: "events+rescan", Reason: fmt.Sprintf("a local filesystem (%s): change events, files closed by their writer ready at once, a rescan every %s as a safety net", info.Kind, every)}
}

// adapt sets the time to the next rescan of an adaptive inbox from the
// cost of the listing that just took took.
func (w *Watcher) adapt(took time.Duration) {
	if !w.adaptive {
		return
	}
	floor := min(pollFloor, w.in.RescanInterval)
	w.rescan = clamp(pollCost*took, floor, max(w.in.RescanInterval, floor))
	if w.logged == 0 {
		w.logged = floor // the cadence "watching inbox" said
	}
	if w.rescan >= 2*w.logged || 2*w.rescan <= w.logged {
		// Said when it halves or doubles, not at every listing.
		w.log.Info("the inbox's listing cost changed: it is listed at a new pace (a listing takes at most a quarter of the time)",
			"listing_took", took.Round(time.Millisecond), "entries", w.cost.entries, "stat", w.cost.stats, "listing_every", w.rescan)
		w.logged = w.rescan
	}
}

// times packs two w.clock readings in milliseconds, each modulo 2^32 (a
// span up to 49 days measures right): since when a candidate's stamp has
// held (low half) and when this life of it was first sighted (high half).
// One word, so that a settling file costs no more than before.
type times uint64

func msOf(clock int64) uint32 { return uint32(clock / int64(time.Millisecond)) }

func newTimes(now int64) times { m := uint64(msOf(now)); return times(m | m<<32) }

// restart starts the stamp's hold again at now.
func (t *times) restart(now int64) { *t = *t&^0xffffffff | times(msOf(now)) }

// held is how long the stamp has held at now.
func (t times) held(now int64) time.Duration {
	return time.Duration(msOf(now)-uint32(t)) * time.Millisecond
}

// age is how long ago this life was first sighted, at now.
func (t times) age(now int64) time.Duration {
	return time.Duration(msOf(now)-uint32(t>>32)) * time.Millisecond
}

// newCand is a file first sighted now, in this life.
func (w *Watcher) newCand(s stamp) cand { return cand{stamp: s, times: newTimes(w.clock())} }

// seen is the first moment the file p (candidate c) could have been seen:
// the earliest of its mtime, its ctime (where the system tells) and its
// first sighting; but, for a file sighted after the first listing, not
// before the listing before the one that could first have shown it (one
// rescan interval and listingSlack before the sighting: an mtime a copy
// kept from the original says nothing of the arrival); and never before
// the watcher started: files already in the inbox at start are a backlog,
// counted from the start.
func (w *Watcher) seen(p string, c *cand) time.Time {
	now := time.Now()
	first := now.Add(-c.times.age(w.clock()))
	t := first
	if m := time.Unix(0, c.mtime); m.Before(t) {
		t = m
	}
	if ct, ok := changeTime(p); ok && ct.Before(t) {
		t = ct
	}
	floor := w.epoch
	// first is kept to the millisecond (times), so it may read up to 1 ms
	// late: a file sighted by the first listing must not pass for a later one.
	if !w.listed.IsZero() && first.After(w.listed.Add(time.Millisecond)) {
		// Sighted after the first listing: not there for the one before.
		floor = later(floor, w.listingFloor(first))
	}
	if t.Before(floor) {
		t = floor
	}
	return t
}

// keptListings is how many listings' start times listingFloor looks back on.
const keptListings = 16

// listingFloor is the earliest a file first sighted at first can have
// arrived, by the listings: not before the listing before the last one
// that began by first (that one may be the listing that sighted it), less
// listingSlack. It is measured on the listings' real start times, not on
// the cadence now: the pace changes (a slow listing stretches it, a share
// that sends no events shortens it), and a file found by the first listing
// after a long pause may have arrived at any time during it.
func (w *Watcher) listingFloor(first time.Time) time.Time {
	j := -1
	for i, b := range w.begins {
		if !b.After(first) {
			j = i
		}
	}
	switch {
	case j >= 1:
		return w.begins[j-1].Add(-listingSlack)
	case j == 0 && len(w.begins) < keptListings:
		// The first listing: it ended before first (see seen), so the file
		// was not in it.
		return w.begins[0].Add(-listingSlack)
	}
	// Sighted before the oldest listing kept: the cadence is all there is.
	return first.Add(-max(w.rescan, w.in.RescanInterval) - listingSlack)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// settled reports whether candidate p, whose stamp has held for held, has
// settled. Where the stamp may miss a write (!trustID), its content must
// also have held: fingerprinted once the stamp held for one look, and
// again once it held for settle; a difference starts settle again.
func (w *Watcher) settled(p string, c *cand, held time.Duration) bool {
	if w.samples == nil {
		return held >= w.in.Settle
	}
	base, ok := w.samples[p]
	if !ok {
		w.samples[strings.Clone(p)] = sampleContent(p)
		return false
	}
	if held < w.in.Settle {
		return false
	}
	if fp := sampleContent(p); fp != base {
		// Written while size and mtime held (a preallocated file, a
		// share that updates mtime when the writer closes): not settled.
		w.samples[p] = fp
		c.times.restart(w.clock())
		return false
	}
	return true
}

// unsample forgets p's content fingerprint.
func (w *Watcher) unsample(p string) {
	if w.samples != nil {
		delete(w.samples, p)
	}
}

// pruneSamples forgets the fingerprints of files no longer settling.
func (w *Watcher) pruneSamples() {
	if len(w.samples) <= w.cands.len() {
		return
	}
	for p := range w.samples {
		if !w.cands.has(p) {
			delete(w.samples, p)
		}
	}
}

// sampleContent fingerprints the file's ends (fileid.Fingerprint: its
// first and last 64 KiB): on a filesystem whose size, mtime and ctime may
// stay still while another machine writes (an SMB server updates mtime
// when the writer closes; a preallocated file has its size from the
// start), a settling file must also keep its content. 0 when unreadable.
func sampleContent(p string) uint64 {
	fp, err := fileid.Fingerprint(p)
	if err != nil {
		return 0
	}
	var h uint64 = 14695981039346656037
	for i := range len(fp) {
		h ^= uint64(fp[i])
		h *= 1099511628211
	}
	return max(h, 1)
}
