//go:build !unix

package watcher

import "os"

// deviceOf reports no device where the platform has none to compare: a
// share that went away is then recognised by the folder being missing.
func deviceOf(path string) (uint64, error) {
	_, err := os.Stat(path)
	return 0, err
}
