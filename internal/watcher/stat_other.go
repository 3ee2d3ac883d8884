//go:build !linux

package watcher

import "os"

// lstatPath is os.Lstat reduced to size, mtime in unix nanoseconds and
// kind of the entry at p, symlinks not followed.
func lstatPath(p string) (size, mtime int64, kind fileKind, err error) {
	st, err := os.Lstat(p)
	if err != nil {
		return 0, 0, kindOther, err
	}
	switch {
	case st.Mode().IsRegular():
		kind = kindFile
	case st.IsDir():
		kind = kindDir
	}
	return st.Size(), st.ModTime().UnixNano(), kind, nil
}
