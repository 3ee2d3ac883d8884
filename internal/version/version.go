// Package version reports the build's version.
package version

import "runtime/debug"

// version is stamped at build time:
//
//	go build -ldflags "-X github.com/ppsync/ppsync/internal/version.version=1.2.3" ./cmd/ppsync
//
// It is the only package-level variable the linker writes; nothing else sets it.
var version string

// String returns the stamped version, else the module version from the
// build info (a `go install` of a tagged release), else "devel" with the
// VCS revision when known.
func String() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel+" + rev
}

// UserAgent is the User-Agent header the client sends.
func UserAgent() string { return "ppsync/" + String() }
