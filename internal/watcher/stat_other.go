//go:build !linux

package watcher

import (
	"os"
	"time"

	"github.com/ppsync/ppsync/internal/winpath"
)

// lstatPath is os.Lstat reduced to the stamp (size, mtime in unix
// nanoseconds, identity where the system gives one) and kind of the entry
// at p, symlinks not followed.
func lstatPath(p string) (s stamp, kind fileKind, err error) {
	st, err := os.Lstat(winpath.Sys(p))
	if err != nil {
		return stamp{}, kindOther, err
	}
	switch {
	case st.Mode().IsRegular():
		kind = kindFile
	case st.IsDir():
		kind = kindDir
	}
	return stamp{size: st.Size(), mtime: st.ModTime().UnixNano(), id: identityOf(st)}, kind, nil
}

// changeTime is not told here: mtime and the first sighting decide.
func changeTime(string) (time.Time, bool) { return time.Time{}, false }
