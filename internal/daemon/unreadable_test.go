package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

// An unreadable file and an unreadable folder are failures of --once,
// listed, never "all done".
func TestUnreadableFileAndFolderFailOnce(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("SKIPPED as root: root reads files whatever their mode, so nothing here can be made unreadable")
	}
	e := newEnv(t, emulator.Options{})
	cfg := e.config(`recursive = true`)
	ok := filepath.Join(e.inbox, "ok.pdf")
	write(t, ok, pdf(t, 1, 1))
	locked := filepath.Join(e.inbox, "locked.pdf")
	write(t, locked, pdf(t, 2, 1))
	closed := filepath.Join(e.inbox, "closed")
	write(t, filepath.Join(closed, "inside.pdf"), pdf(t, 3, 1))
	for _, p := range []string{locked, closed} {
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = os.Chmod(closed, 0o755) })
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !exists(results.ResultPath(ok)) || sum.Done != 1 {
		t.Errorf("summary %+v: the readable file must get its result", sum)
	}
	if ef := readError(t, locked); ef.Error.Code != "UNREADABLE_FILE" || !strings.Contains(ef.Error.Message, "read access") {
		t.Errorf("error file of the unreadable file: %+v", ef)
	}
	problems := strings.Join(sum.Problems, "\n")
	if sum.OK() || sum.Invalid != 1 || len(sum.Unreachable) != 1 || !strings.Contains(problems, closed) {
		t.Errorf("summary %+v: want the file refused and the folder listed", sum)
	}
}
