package state

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mappedRSS sums the resident kilobytes of this process's mappings of the
// file at path (/proc/self/smaps).
func mappedRSS(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := fi.Sys().(*syscall.Stat_t)
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	kb, in := 0, false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			_, _, in = mappingOf(l, uint64(sys.Dev), sys.Ino)
		case in && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			kb += n
		}
	}
	return kb
}

func TestReleaseMappedDropsReadPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reason := strings.Repeat("r", 1500)
	for b := range 4 {
		err := s.Update(func(tx *Tx) error {
			for i := range 1000 {
				if err := tx.PutFile(File{Path: fmt.Sprintf("/in/%d/%04d.pdf", b, i), State: FileDone, Reason: reason}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := s.View(func(tx *Tx) error { return tx.Files(func(File) error { n++; return nil }) }); err != nil {
		t.Fatal(err)
	}
	before := mappedRSS(t, path)
	if n != 4000 || before < 4000 {
		t.Fatalf("read %d records, %d KiB of the file resident: expected every page read to be resident", n, before)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	if after := mappedRSS(t, path); after > before/10 {
		t.Errorf("%d KiB of the state file resident after release, %d before", after, before)
	}
	// The records read as before.
	m := 0
	if err := s.View(func(tx *Tx) error { return tx.Files(func(File) error { m++; return nil }) }); err != nil || m != n {
		t.Errorf("after release: %d records, %v", m, err)
	}
}
