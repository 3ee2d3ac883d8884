package stageopts_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/stageopts"
	"github.com/ppsync/ppsync/internal/watcher"
)

func TestWatcherCarriesEveryInboxSettingItReads(t *testing.T) {
	in := config.Inbox{
		Path: "/srv/in", ParserID: "prs", Recursive: true,
		Include: []string{"*.pdf"}, Exclude: []string{"*.tmp", "#recycle"},
		ProcessedDir: "/srv/in/done", FailedDir: "/srv/in/failed",
		Settle: config.D(3 * time.Second), IncompleteAfter: config.D(5 * time.Minute),
		Watch: config.WatchPoll, RescanInterval: config.D(7 * time.Minute),
		// Settings the watcher does not read.
		After: "move", ResultsDir: "/srv/out", Ledger: "ledger.csv", MaxPages: 9,
	}
	got := stageopts.Watcher(in)
	want := watcher.Inbox{
		Path: "/srv/in", ParserID: "prs", Recursive: true,
		Include: []string{"*.pdf"}, Exclude: []string{"*.tmp", "#recycle"},
		ProcessedDir: "/srv/in/done", FailedDir: "/srv/in/failed",
		Settle: 3 * time.Second, IncompleteAfter: 5 * time.Minute,
		Watch: watcher.WatchPoll, RescanInterval: 7 * time.Minute,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Watcher(%+v)\n = %+v\nwant %+v", in, got, want)
	}
	// A field added to watcher.Inbox and forgotten here stays zero.
	v := reflect.ValueOf(got)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("watcher.Inbox.%s is not set from the config", v.Type().Field(i).Name)
		}
	}
	// The watcher's globs are its own: changing them leaves the config's.
	got.Exclude[0] = "changed"
	if in.Exclude[0] != "*.tmp" {
		t.Errorf("the watcher's exclude globs share the config's slice: %q", in.Exclude)
	}
}

// The watcher spells its modes as the config's watch setting does: a
// mode passes through unchanged and means the same on both sides.
func TestWatchModesAgreeWithTheConfig(t *testing.T) {
	for _, tc := range []struct{ config, watcher string }{
		{config.WatchAuto, watcher.WatchAuto},
		{config.WatchEvents, watcher.WatchEvents},
		{config.WatchPoll, watcher.WatchPoll},
	} {
		if tc.config != tc.watcher {
			t.Errorf("config's watch mode %q is %q in the watcher", tc.config, tc.watcher)
		}
		if got := stageopts.Watcher(config.Inbox{Watch: tc.config}).Watch; got != tc.watcher {
			t.Errorf("watch = %q became %q", tc.config, got)
		}
	}
}
