// Package winpath gives the file system calls a path they can open on
// Windows when a name in it ends in a dot or a space (a folder "ACME Inc."
// made by a Mac or Linux client on a share). Win32 path normalisation drops
// such a trailing dot or space, so the file cannot be opened by the name it
// is listed under; the extended-length form (\\?\C:\..., \\?\UNC\server\...)
// is passed to the file system as it is. Paths shown to people, stored in
// the state and compared stay in their ordinary form: only the calls get
// Sys(path). Everywhere but Windows every function returns its argument.
package winpath

import "strings"

// odd reports whether a name in p (a folder or the file) ends in a dot or
// a space, other than the relative names "." and "..".
func odd(p string) bool {
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '\\' && p[i] != '/' {
			continue
		}
		name := p[start:i]
		start = i + 1
		if name == "" || name == "." || name == ".." {
			continue
		}
		if last := name[len(name)-1]; last == '.' || last == ' ' {
			return true
		}
	}
	return false
}

// extended is the \\?\ form of an absolute, clean Windows path p (as
// filepath.Clean leaves it on Windows: backslashes, no . or .. names).
// A path already extended, a device path (\\.\) and a path that is not
// absolute are returned as they are.
func extended(p string) string {
	switch {
	case strings.HasPrefix(p, `\\?\`), strings.HasPrefix(p, `\??\`), strings.HasPrefix(p, `\\.\`):
		return p
	case strings.HasPrefix(p, `\\`):
		return `\\?\UNC\` + p[2:]
	case len(p) >= 3 && p[1] == ':' && p[2] == '\\' && isLetter(p[0]):
		return `\\?\` + p
	}
	return p
}

// plain is the inverse of extended: the ordinary form of an extended path.
func plain(p string) string {
	if rest, ok := strings.CutPrefix(p, `\\?\UNC\`); ok {
		return `\\` + rest
	}
	if rest, ok := strings.CutPrefix(p, `\\?\`); ok && len(rest) >= 3 && rest[1] == ':' && rest[2] == '\\' && isLetter(rest[0]) {
		return rest
	}
	return p
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
