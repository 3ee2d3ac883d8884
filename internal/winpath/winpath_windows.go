package winpath

import (
	"os"
	"path/filepath"
)

// Sys returns the form of path to hand to the file system: its \\?\ form
// when a name in it ends in a dot or a space, else path itself (Go's os
// package extends paths past MAX_PATH on its own, but through
// GetFullPathName, which drops those dots and spaces).
func Sys(path string) string {
	if !odd(path) {
		return path
	}
	return Extended(path)
}

// Extended returns the \\?\ form of path, made absolute against the working
// directory without Win32 normalisation, for walking a tree whose folders
// may have names ending in a dot or a space: every path below an extended
// root is extended too. Give what the walk finds back to people and the
// state through Plain.
func Extended(path string) string {
	if plain(path) != path {
		return path // already extended
	}
	p := filepath.Clean(path)
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return path
		}
		p = filepath.Join(wd, p)
	}
	return extended(p)
}

// Plain returns the ordinary form of a path Extended made (and of any path
// below it): \\?\C:\x is C:\x, \\?\UNC\server\share\x is \\server\share\x.
// Other paths are returned as they are.
func Plain(path string) string { return plain(path) }
