//go:build !unix

package results

import "os"

// renameFile renames the regular file from onto to.
func renameFile(from, to string) error { return os.Rename(from, to) }

// removeFile removes the file at path.
func removeFile(path string) error { return os.Remove(path) }
