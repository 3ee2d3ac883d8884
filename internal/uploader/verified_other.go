//go:build !linux && !darwin

package uploader

import "os"

// stampOf is the size and mtime alone where the platform gives no inode
// and ctime (the watcher gives no identity there either).
func stampOf(f *os.File) (stamp, error) {
	fi, err := f.Stat()
	if err != nil {
		return stamp{}, err
	}
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}, nil
}
