package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/fsinfo"
)

// check says how each inbox is watched and why; a share in watch = "auto"
// is fine (polled from the start), one forced to events is a problem.
func TestCheckSaysHowAnInboxIsWatched(t *testing.T) {
	share := fsinfo.Info{Kind: "cifs", Network: true}
	for _, tc := range []struct {
		name    string
		watch   string
		info    fsinfo.Info
		how     string
		problem bool
	}{
		{"share, auto", config.WatchAuto, share, "watched by poll (network filesystem cifs)", false},
		{"share, poll", config.WatchPoll, share, "watched by poll", false},
		{"share, events", config.WatchEvents, share, "no change events", true},
		{"local, auto", config.WatchAuto, fsinfo.Info{Kind: "ext4"}, "watched by events+rescan", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := config.Inbox{Path: "/srv/in", Watch: tc.watch, RescanInterval: config.D(time.Minute)}
			how, fix := watchDecision(in, tc.info, nil)
			if !strings.Contains(how, tc.how) || (fix != "") != tc.problem {
				t.Errorf("watchDecision = %q, fix %q; want %q, problem %v", how, fix, tc.how, tc.problem)
			}
		})
	}
}
