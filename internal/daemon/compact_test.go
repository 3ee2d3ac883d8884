package daemon_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/state"
)

// seedGoneRecords writes n records of files long gone from inbox, each
// with a document holding a result of a few KiB, into the state at path,
// compacted: a state of more than state.CompactMinSize that pruning
// empties.
func seedGoneRecords(t *testing.T, path, inbox string, n int) {
	t.Helper()
	st, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-400 * 24 * time.Hour)
	result := []byte(`"` + strings.Repeat("x", 2400) + `"`)
	for start := 0; start < n; start += 1000 {
		if err := st.Update(func(tx *state.Tx) error {
			for i := start; i < min(start+1000, n); i++ {
				p := filepath.Join(inbox, fmt.Sprintf("gone %06d.pdf", i))
				sha := fmt.Sprintf("%064d", i)
				if err := tx.SeedFile(state.File{Path: p, Inbox: inbox, ParserID: "prs_invoice", SHA256: sha, State: state.FileDone, Updated: old}); err != nil {
					return err
				}
				if err := tx.SeedDoc(state.Doc{Key: state.DocKey("prs_invoice", sha), ParserID: "prs_invoice", SHA256: sha,
					State: state.DocDone, Files: []string{p}, Result: result, Updated: old}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := state.Compact(path, time.Second); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= state.CompactMinSize {
		t.Fatalf("seeded state of %d bytes, want more than %d", fi.Size(), state.CompactMinSize)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMaintainCompactsTheStateInPlace runs the daemon on a large state
// whose records are of files long gone: its first prune compacts the file
// in place while the stages run (a file dropped meanwhile gets its
// result) and says so in the log. A state already mostly free is
// compacted at start-up, before the stages use it.
func TestMaintainCompactsTheStateInPlace(t *testing.T) {
	seeded := filepath.Join(t.TempDir(), "seeded.db")
	e0 := newEnv(t, emulator.Options{})
	seedGoneRecords(t, seeded, e0.inbox, 20000)

	t.Run("while pruning", func(t *testing.T) {
		e := newEnv(t, emulator.Options{})
		// The records name files of the first environment's inbox: none of
		// them exists, and that inbox exists as long as this test runs.
		cfg := e.config("")
		copyFile(t, seeded, cfg.State.Path)
		before := fileSizeOf(t, cfg.State.Path)
		stop := e.start(cfg)
		e.waitFor("a compaction during the prune", 60*time.Second, func() bool {
			return strings.Contains(e.logs.String(), "compacted the state file while pruning")
		})
		file := filepath.Join(e.inbox, "after compaction.pdf")
		write(t, file, pdf(t, 1, 1))
		e.waitFor("the result of a file dropped after the compaction", 30*time.Second, func() bool { return exists(file + ".json") })
		stop()
		logs := e.logs.String()
		if strings.Contains(logs, `msg="compacted the state file" `) {
			t.Error("a state without free pages was compacted at start-up")
		}
		if !strings.Contains(logs, "files=20000 documents=20000") || !strings.Contains(logs, "compactions=1") {
			t.Errorf("prune of 20000 files and documents with one compaction not logged:\n%s", tail(logs, 3000))
		}
		// The compaction's own sizes, from its log line: what the daemon
		// wrote after it (the file dropped, the stages' records, pages a
		// long read kept from being reused) is not the compaction's.
		m := regexp.MustCompile(`compacted the state file while pruning.* before_bytes=(\d+) after_bytes=(\d+)`).FindStringSubmatch(logs)
		if m == nil {
			t.Fatalf("no sizes in the compaction's log line:\n%s", tail(logs, 3000))
		}
		compacted, _ := strconv.ParseInt(m[2], 10, 64)
		if compacted >= before/2 {
			t.Errorf("the compaction left %d bytes of the %d before the daemon's prune, want under half:\n%s", compacted, before, tail(logs, 3000))
		}
		if after := fileSizeOf(t, cfg.State.Path); after >= before {
			t.Errorf("state file %d bytes after the daemon's prune, %d before", after, before)
		}
		if strings.Contains(logs, "cannot compact") {
			t.Errorf("a compaction failed:\n%s", tail(logs, 3000))
		}
	})

	t.Run("at start-up", func(t *testing.T) {
		e := newEnv(t, emulator.Options{})
		cfg := e.config("")
		copyFile(t, seeded, cfg.State.Path)
		st, err := state.Open(cfg.State.Path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// Every record removed, as a prune that ran without compacting
		// leaves it: the files through the store, the documents (final, so
		// in no index) directly.
		for start := 0; start < 20000; start += 1000 {
			if err := st.Update(func(tx *state.Tx) error {
				for i := start; i < start+1000; i++ {
					if err := tx.SeedDeleteFile(filepath.Join(e0.inbox, fmt.Sprintf("gone %06d.pdf", i))); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(cfg.State.Path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		for start := 0; start < 20000; start += 1000 {
			if err := db.Update(func(tx *bolt.Tx) error {
				for i := start; i < start+1000; i++ {
					if err := tx.Bucket([]byte("docs")).Delete([]byte(state.DocKey("prs_invoice", fmt.Sprintf("%064d", i)))); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		before := fileSizeOf(t, cfg.State.Path)
		stop := e.start(cfg)
		logs := e.logs.String()
		if !strings.Contains(logs, `msg="compacted the state file" state=`+cfg.State.Path+fmt.Sprintf(" before_bytes=%d", before)) {
			t.Errorf("no compaction at start-up logged:\n%s", tail(logs, 3000))
		}
		if after := fileSizeOf(t, cfg.State.Path); after >= before/4 {
			t.Errorf("state file %d bytes after compaction at start-up, %d before", after, before)
		}
		file := filepath.Join(e.inbox, "after start-up.pdf")
		write(t, file, pdf(t, 2, 1))
		e.waitFor("the result of a file dropped after start-up", 30*time.Second, func() bool { return exists(file + ".json") })
		stop()
	})
}

func fileSizeOf(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
