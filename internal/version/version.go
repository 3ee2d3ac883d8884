// Package version reports the build's version.
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// These are stamped at build time by packaging/build.sh:
//
//	go build -ldflags "-X github.com/ppsync/ppsync/internal/version.version=1.2.3
//	  -X github.com/ppsync/ppsync/internal/version.commit=abc123...
//	  -X github.com/ppsync/ppsync/internal/version.commitDate=2026-01-31T08:00:00Z" ./cmd/ppsync
//
// They are the only package-level variables the linker writes; nothing
// else sets them. commit and commitDate are the fallback for a build
// without VCS information (a source tarball, -buildvcs=false); the Go
// toolchain's own record of the checkout wins when present.
var (
	version    string
	commit     string
	commitDate string
)

// Info describes the running binary.
type Info struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	CommitDate string `json:"commit_date,omitempty"`
	// Modified is true when the tree had uncommitted changes at build time.
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

// Stamps are the values written by the linker (-X).
type Stamps struct{ Version, Commit, CommitDate string }

// Get returns the running binary's Info.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return FromBuild(bi, Stamps{version, commit, commitDate})
}

// FromBuild computes Info from build information (nil when there is none)
// and the linker's stamps.
func FromBuild(bi *debug.BuildInfo, s Stamps) Info {
	in := Info{Commit: s.Commit, CommitDate: s.CommitDate, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		var goos, goarch string
		for _, st := range bi.Settings {
			switch st.Key {
			case "vcs.revision":
				in.Commit = st.Value
			case "vcs.time":
				in.CommitDate = st.Value
			case "vcs.modified":
				in.Modified = st.Value == "true"
			case "GOOS":
				goos = st.Value
			case "GOARCH":
				goarch = st.Value
			}
		}
		if goos != "" && goarch != "" {
			in.Platform = goos + "/" + goarch
		}
	}
	switch {
	case s.Version != "":
		in.Version = s.Version
	case bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		in.Version = bi.Main.Version
	case in.Commit != "":
		rev := in.Commit
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if in.Modified {
			rev += "-dirty"
		}
		in.Version = "devel+" + rev
	default:
		in.Version = "devel"
	}
	return in
}

// String returns the stamped version, else the module version from the
// build info (a `go install` of a tagged release), else "devel" with the
// VCS revision when known.
func String() string { return Get().Version }

// Text is what `ppsync version` prints: one line per fact.
func (in Info) Text() string {
	var b strings.Builder
	b.WriteString("ppsync " + in.Version + "\n")
	commit := in.Commit
	if commit == "" {
		commit = "unknown (built without version control information)"
	}
	if in.Modified {
		commit += " (modified: built with uncommitted changes)"
	}
	b.WriteString("commit:      " + commit + "\n")
	if in.CommitDate != "" {
		b.WriteString("commit date: " + in.CommitDate + "\n")
	}
	b.WriteString("go:          " + in.GoVersion + "\n")
	b.WriteString("platform:    " + in.Platform + "\n")
	return b.String()
}

// UserAgent is the User-Agent header the client sends.
func UserAgent() string { return "ppsync/" + String() }
