package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuild(t *testing.T) {
	vcs := func(rev, tm, mod string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "plan9"}, {Key: "GOARCH", Value: "arm"},
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: mod},
		}}
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		s    Stamps
		want Info
	}{
		{"vcs, dirty", vcs("0123456789abcdef0123", "2026-01-31T08:00:00Z", "true"), Stamps{},
			Info{Version: "devel+0123456789ab-dirty", Commit: "0123456789abcdef0123", CommitDate: "2026-01-31T08:00:00Z", Modified: true, GoVersion: "go1.99.1", Platform: "plan9/arm"}},
		{"stamped release, vcs clean", vcs("abc", "2026-02-01T00:00:00Z", "false"), Stamps{Version: "1.2.3"},
			Info{Version: "1.2.3", Commit: "abc", CommitDate: "2026-02-01T00:00:00Z", GoVersion: "go1.99.1", Platform: "plan9/arm"}},
		{"no vcs: the linker's stamps", &debug.BuildInfo{GoVersion: "go1.99.1"}, Stamps{"1.2.3", "fedcba", "2026-03-01T00:00:00Z"},
			Info{Version: "1.2.3", Commit: "fedcba", CommitDate: "2026-03-01T00:00:00Z", GoVersion: "go1.99.1", Platform: runtime.GOOS + "/" + runtime.GOARCH}},
		{"go install of a tag", &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.4.0"}}, Stamps{},
			Info{Version: "v1.4.0", GoVersion: "go1.99.1", Platform: runtime.GOOS + "/" + runtime.GOARCH}},
		{"nothing known", nil, Stamps{},
			Info{Version: "devel", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromBuild(tc.bi, tc.s); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	txt := Info{Version: "1.2.3", Commit: "abc", CommitDate: "2026-01-31T08:00:00Z", Modified: true, GoVersion: "go1.99.1", Platform: "linux/arm64"}.Text()
	for _, w := range []string{"ppsync 1.2.3\n", "commit:      abc (modified", "commit date: 2026-01-31T08:00:00Z", "go:          go1.99.1", "platform:    linux/arm64"} {
		if !strings.Contains(txt, w) {
			t.Errorf("%q lacks %q", txt, w)
		}
	}
	if txt := (Info{Version: "devel"}).Text(); !strings.Contains(txt, "commit:      unknown") {
		t.Errorf("no commit: %q", txt)
	}
}
