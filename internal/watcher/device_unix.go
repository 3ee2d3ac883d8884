//go:build unix

package watcher

import (
	"os"
	"syscall"
)

// deviceOf returns the id of the filesystem holding path.
func deviceOf(path string) (uint64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), nil //nolint:unconvert // int32 on darwin
	}
	return 0, nil
}
