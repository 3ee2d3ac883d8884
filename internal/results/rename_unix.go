//go:build unix

package results

import (
	"os"
	"syscall"
)

// renameFile renames the regular file from onto to. It is rename(2)
// itself: os.Rename first looks the target up to refuse a folder there, one more
// lookup of a name that usually does not exist yet, which a
// case-insensitive SMB server answers by reading the whole folder.
// rename(2) refuses a folder on its own (EISDIR) when from is a file.
func renameFile(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// removeFile removes the file (or symlink) at path. It is unlink(2)
// itself: os.Remove, when unlink fails, tries rmdir as well, one more
// lookup of a name that usually does not exist, and a folder that
// happens to carry an output's name is not ppsync's to remove.
func removeFile(path string) error {
	if err := syscall.Unlink(path); err != nil {
		return &os.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}
