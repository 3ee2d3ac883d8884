//go:build linux || darwin

package results_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ppsync/ppsync/internal/results"
)

// fsizeChild names the file a child process of
// TestInterruptedWriteAtomicLeavesTheOldVersion rewrites.
const fsizeChild = "PPSYNC_TEST_WRITEATOMIC_FSIZE"

// A WriteAtomic interrupted partway (here the file size limit, RLIMIT_FSIZE,
// stops the write in a child process after 64 KiB of 1 MiB, as a full disk
// or a quota would) fails, and leaves the file as it was: the previous
// complete version, never a truncated or half-written one, and no
// temporary file behind.
func TestInterruptedWriteAtomicLeavesTheOldVersion(t *testing.T) {
	if p := os.Getenv(fsizeChild); p != "" {
		signal.Ignore(syscall.SIGXFSZ) // the write fails with EFBIG instead
		lim := syscall.Rlimit{Cur: 64 << 10, Max: 64 << 10}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			fmt.Println("setrlimit:", err)
			os.Exit(3)
		}
		if err := results.WriteAtomic(p, bytes.Repeat([]byte("new version;"), (1<<20)/12)); err != nil {
			fmt.Println("write failed:", err)
			os.Exit(1)
		}
		fmt.Println("write succeeded")
		os.Exit(0)
	}

	dir := t.TempDir()
	p := filepath.Join(dir, "a.pdf.json")
	old := bytes.Repeat([]byte("old version;"), 1000)
	if err := results.WriteAtomic(p, old); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptedWriteAtomicLeavesTheOldVersion$", "-test.count=1")
	cmd.Env = append(os.Environ(), fsizeChild+"="+p)
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if code != 1 || !strings.Contains(string(out), "write failed:") || !strings.Contains(string(out), p) {
		t.Fatalf("the interrupted write: exit %d (%v), want 1 with an error naming %s:\n%s", code, err, p, out)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("after an interrupted rewrite the file is gone: %v", err)
	}
	if !bytes.Equal(got, old) {
		t.Errorf("after an interrupted rewrite the file holds %d bytes (%.24q…), want the old version's %d", len(got), got, len(old))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != filepath.Base(p) {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
