//go:build linux || darwin

package uploader

import (
	"os"
	"syscall"

	"github.com/ppsync/ppsync/internal/watcher"
)

func stampOf(f *os.File) (stamp, error) {
	fi, err := f.Stat()
	if err != nil {
		return stamp{}, err
	}
	s := stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino, s.ctime = int64(st.Ino), ctimeOf(st)
		s.identity = watcher.IdentityOf(st.Ino, s.ctime)
	}
	return s, nil
}
