package rebuild_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/rebuild"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// A result file replaced by a symlink or a hard link to a file outside
// the inbox (here a result matching the file, so only how it is reached
// can refuse it) does not make the rebuild record the file done: it is
// processed again rather than trusted, and the link is never recorded as
// its result.
func TestRebuildTrustsOnlyResultsPpsyncWrote(t *testing.T) {
	for _, link := range []string{"symlink", "hard link"} {
		t.Run(link, func(t *testing.T) {
			cfg := testConfig(t)
			root := cfg.Inboxes[0].Path
			good := finished(t, root, "good.pdf")
			p := finished(t, root, "linked.pdf")
			private := filepath.Join(filepath.Dir(root), "private")
			if err := os.Mkdir(private, 0o700); err != nil {
				t.Fatal(err)
			}
			outside := filepath.Join(private, "linked.pdf.json")
			if err := os.Rename(results.ResultPath(p), outside); err != nil {
				t.Fatal(err)
			}
			var err error
			if link == "symlink" {
				err = os.Symlink(outside, results.ResultPath(p))
			} else {
				err = os.Link(outside, results.ResultPath(p))
			}
			if err != nil {
				t.Skipf("%s unavailable: %v", link, err)
			}
			res, err := rebuild.Run(context.Background(), cfg, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			got := files(t, cfg.State.Path)
			if got[good] != state.FileDone || res.Done != 1 {
				t.Errorf("good.pdf %q, done %d: want only good.pdf done", got[good], res.Done)
			}
			if s, ok := got[p]; ok {
				t.Errorf("linked.pdf recorded %q from a result reached through a %s", s, link)
			}
		})
	}
}
