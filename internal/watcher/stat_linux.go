package watcher

import (
	"io/fs"
	"syscall"
)

// lstatPath is os.Lstat without the FileInfo: size, mtime in unix
// nanoseconds and kind of the entry at p, symlinks not followed.
func lstatPath(p string) (size, mtime int64, kind fileKind, err error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return 0, 0, kindOther, &fs.PathError{Op: "lstat", Path: string([]byte(p)), Err: err}
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		kind = kindFile
	case syscall.S_IFDIR:
		kind = kindDir
	}
	return st.Size, int64(st.Mtim.Sec)*1e9 + int64(st.Mtim.Nsec), kind, nil
}
