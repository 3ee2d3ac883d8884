//go:build !unix

package results

import (
	"errors"
	"os"
)

// renameFile renames the regular file from onto to.
func renameFile(from, to string) error { return os.Rename(from, to) }

// removeFile removes the file (or symlink) at path, never a folder:
// os.Remove would remove an empty one.
func removeFile(path string) error {
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		return &os.PathError{Op: "remove", Path: path, Err: errors.New("is a folder")}
	}
	return os.Remove(path)
}
