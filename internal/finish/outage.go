package finish

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/results"
)

// outage is an inbox whose storage could not be reached by a result write
// (a share whose server is down, a disk gone): its results stay pending,
// are tried again after a back-off that doubles up to a cap, and the
// outage is logged when it starts and when it ends, not once per file and
// attempt.
type outage struct {
	since   time.Time
	err     error         // the first failure
	wait    time.Duration // the current back-off
	next    time.Time     // no write is tried before
	pending int           // writes put off or failed since it started
	quiet   bool          // the watcher logged it (see outageStart)
}

func (f *Finisher) backoff() (first, most time.Duration) {
	first, most = f.o.RetryBackoff, f.o.MaxRetryBackoff
	if first <= 0 {
		first = 2 * time.Second
	}
	if most <= 0 {
		most = time.Minute
	}
	return first, max(first, most)
}

// unreachable reports whether err, from a write into inbox i, says the
// inbox's storage cannot be reached: an I/O error and its kin, or a
// missing file whose inbox folder is itself missing or unreadable.
func (f *Finisher) unreachable(i int, err error) bool {
	if results.Unreachable(err) {
		return true
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	_, serr := os.Stat(f.o.Inboxes[i].Path)
	return serr != nil
}

// outageHolds reports whether inbox i is in an outage whose back-off has
// not run out: no write is tried into it now.
func (f *Finisher) outageHolds(i int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.outages[i]
	if o == nil {
		return false
	}
	if f.now().Before(o.next) {
		o.pending++
		return true
	}
	return false
}

// outageStart records that a write into inbox i failed because its
// storage is unreachable: the first failure starts an outage and is
// logged; a failure of a later attempt doubles the back-off, silently.
func (f *Finisher) outageStart(i int, err error) {
	first, most := f.backoff()
	now := f.now()
	// When the inbox's watcher finds it unreachable too, that check has
	// logged the outage (once for every part that meets it): this part of
	// it is told at debug level, its end too.
	quiet := f.o.Reachable != nil && !f.o.Reachable(i)
	f.mu.Lock()
	o := f.outages[i]
	if o != nil {
		o.wait = min(2*o.wait, most)
		o.next = now.Add(o.wait)
		o.pending++
		f.mu.Unlock()
		return
	}
	o = &outage{since: now, err: err, wait: first, next: now.Add(first), quiet: quiet}
	f.outages[i] = o
	f.mu.Unlock()
	f.log.Log(context.Background(), o.level(slog.LevelError),
		"cannot write results into the inbox: its share or disk seems unreachable; the results are kept and written when it is back "+
			fmt.Sprintf("(tried again after %v, then less and less often, at least every %v)", first, most),
		"inbox", f.o.Inboxes[i].Path, "error", err)
}

// level is the level of an outage's lines: lvl, or debug when the
// watcher has logged the outage.
func (o *outage) level(lvl slog.Level) slog.Level {
	if o.quiet {
		return slog.LevelDebug
	}
	return lvl
}

// outageEnd ends inbox i's outage after a write into it succeeded.
func (f *Finisher) outageEnd(i int) {
	f.mu.Lock()
	o := f.outages[i]
	delete(f.outages, i)
	f.mu.Unlock()
	if o == nil {
		return
	}
	f.log.Log(context.Background(), o.level(slog.LevelInfo), "results can be written into the inbox again; the ones kept are being written",
		"inbox", f.o.Inboxes[i].Path, "unreachable_for", f.now().Sub(o.since).Round(time.Second).String(), "writes_put_off", o.pending)
}

// Unreachable returns why results cannot be written into inbox i now, or
// nil: the error that started its outage.
func (f *Finisher) Unreachable(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o := f.outages[i]; o != nil {
		return fmt.Errorf("results cannot be written into %s since %s: %w", f.o.Inboxes[i].Path, o.since.Format(time.RFC3339), o.err)
	}
	return nil
}
