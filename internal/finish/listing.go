package finish

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/fsinfo"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/winpath"
)

// Lookups of names that do not exist yet.
//
// Before a file is submitted its result is looked for (AlreadyDone), and
// after its result is written the error file a former failure may have
// left is removed (and the other way round). For a new file neither
// exists, and on a case-insensitive SMB server each such lookup reads the
// whole folder: a backlog of n files in one folder costs O(n²). So where
// the folder is on a network filesystem, one listing of the folder answers
// "may <name> exist?" for every file seen before it was taken, and only a
// name the listing holds (in any case) is looked up, read or removed.
//
// Why a name the listing lacks can be skipped:
//   - ppsync's own outputs in the folder are added to the listing as they
//     are written (noteWritten), so an output ppsync wrote after the
//     listing is still removed when it becomes stale;
//   - a listing is used only for a file first seen before it was taken
//     (state.File.FirstSeen), so everything that was in the folder when
//     the file arrived, a result or error file copied in with it or left
//     by a run whose state was lost, is in the listing;
//   - what is left is a file someone else creates under the output's name
//     after the source was first seen, while ppsync handles it. Looking the
//     name up per file never closed that race either (the file could come
//     a moment after the lookup), it only made its window shorter: it is
//     a user's file created concurrently, not an output ppsync left, and a
//     result appearing for exactly this content in that window is one
//     ppsync did not write and cannot have been paid for by it.
//
// The temp file's exclusive create and the rename onto the output's name
// remain: two missing-name lookups per output, the floor of an atomic
// write.

// relistEvery bounds how often a folder is listed again for files seen
// after its last listing: at most once per relistFactor times what the
// last listing took (and not more often than relistMin). Files seen in
// between are looked up one by one, as on a local filesystem, so a steady
// trickle of files never costs a listing each.
const (
	relistFactor = 10
	relistMin    = time.Second
)

// folderNames caches, per folder, the last listing of its names.
type folderNames struct {
	mu sync.Mutex
	// list reports whether lookups in a folder are answered from a
	// listing; nil means where the folder is on a network filesystem.
	list    func(dir string) bool
	listing map[string]*listing
	kind    map[string]bool
}

type listing struct {
	names *results.Names
	taken time.Time     // when the listing started
	took  time.Duration // how long it took
}

// mayExist reports whether path may exist, from a listing of its folder
// taken after since when one can be had; true (look it up) otherwise.
func (c *folderNames) mayExist(path string, since time.Time) bool {
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	if since.IsZero() {
		return true // no moment to hold a listing to: look it up
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listed(dir) {
		return true
	}
	l := c.listing[dir]
	if l != nil && !l.taken.Before(since) {
		return l.names.MayHave(name)
	}
	if l != nil && time.Since(l.taken) < max(relistMin, relistFactor*l.took) {
		return true // listed a moment ago: look this one up rather than list again
	}
	start := time.Now()
	names, err := results.ListNames(dir)
	if err != nil {
		return true
	}
	l = &listing{names: names, taken: start, took: time.Since(start)}
	c.listing[dir] = l
	if l.taken.Before(since) {
		return true // the clocks disagree: look it up
	}
	return names.MayHave(name)
}

// noteWritten records that ppsync created path, so a listing taken before
// still knows it exists.
func (c *folderNames) noteWritten(path string) {
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.listing[dir]; l != nil {
		l.names.Add(name)
	}
}

// listed reports whether dir's lookups go through a listing. Call with mu.
func (c *folderNames) listed(dir string) bool {
	if c.listing == nil {
		c.listing = map[string]*listing{}
	}
	if c.list != nil {
		return c.list(dir)
	}
	if c.kind == nil {
		c.kind = map[string]bool{}
	}
	net, ok := c.kind[dir]
	if !ok {
		fi, err := fsinfo.Of(dir)
		net = err == nil && fi.Network
		c.kind[dir] = net
	}
	return net
}

// goneForSure confirms that path, which a stat said does not exist, is
// absent from a fresh listing of its folder where that folder's lookups go
// through listings (network filesystems). An SMB client under load may
// answer a stat with "no such file" for a file that is there; recording it
// deleted would leave it without a result for good. A folder that cannot be
// listed confirms nothing.
func (c *folderNames) goneForSure(path string) bool {
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	c.mu.Lock()
	listed := c.listed(dir)
	c.mu.Unlock()
	if !listed {
		return true
	}
	ents, err := os.ReadDir(winpath.Sys(dir))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.Name() == name {
			return false
		}
	}
	return true
}
