package finish_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/state"
)

// The answers of one poll are recorded in one transaction, and the files
// finished with them in one more: two commits for twelve documents, not
// one per answer and one per file.
func TestPollIsTwoCommits(t *testing.T) {
	for _, move := range []bool{false, true} {
		t.Run(fmt.Sprint("move=", move), func(t *testing.T) { testPollCommits(t, move) })
	}
}

// testPollCommits: with move, the files moved out are recorded where they
// went in one more commit.
func testPollCommits(t *testing.T, move bool) {
	st := openStore(t)
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	var answers []finish.Answer
	var paths []string
	for i := range 12 {
		name := fmt.Sprintf("f%02d.pdf", i)
		p, k := submitted(t, st, inbox, inbox, name, true)
		paths = append(paths, p)
		answers = append(answers, finish.Answer{Key: k, Doc: doc(t, completed(t, name))})
	}
	done := filepath.Join(dir, "done")
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox, Move: move, ProcessedDir: done, FailedDir: filepath.Join(dir, "failed")}}})
	before := st.Commits()
	for i, err := range fin.DoneAll(context.Background(), answers) {
		if err != nil {
			t.Errorf("answer %d: %v", i, err)
		}
	}
	want := uint64(2)
	if move {
		want = 3
	}
	if got := st.Commits() - before; got != want {
		t.Errorf("12 answers of one poll took %d commits, want %d (the answers, the files, where they were moved)", got, want)
	}
	for _, p := range paths {
		var f state.File
		if err := st.View(func(tx *state.Tx) error { f, _, _ = tx.File(p); return nil }); err != nil {
			t.Fatal(err)
		}
		if f.State != state.FileDone {
			t.Errorf("%s: %s, want done", p, f.State)
		}
		if _, err := os.Stat(p + ".json"); !move && err != nil {
			t.Errorf("result of %s: %v", p, err)
		}
		if move && (f.MovedTo == "" || filepath.Dir(f.MovedTo) != done) {
			t.Errorf("%s moved to %q, want it recorded in %s", p, f.MovedTo, done)
		}
	}
}

// A stop between the two grouped writes of a poll (the answers recorded,
// the results written and synced, the files not yet recorded) leaves no
// file recorded done without its result and no document to send again:
// the next run writes the results from the stored answers and records
// them, charging nothing.
func TestCrashBetweenGroupedWritesChargesNothingAgain(t *testing.T) {
	st := openStore(t)
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	var answers []finish.Answer
	var paths []string
	for i := range 8 {
		name := fmt.Sprintf("c%02d.pdf", i)
		p, k := submitted(t, st, inbox, inbox, name, true)
		paths = append(paths, p)
		answers = append(answers, finish.Answer{Key: k, Doc: doc(t, completed(t, name))})
	}
	// The state file as it is on disk when the results' folder is synced:
	// what a run stopped at that moment leaves.
	crashed := filepath.Join(dir, "crashed.db")
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox}},
		SyncDir: func(string) error {
			b, err := os.ReadFile(st.Path())
			if err == nil {
				err = os.WriteFile(crashed, b, 0o600)
			}
			return err
		}})
	for _, err := range fin.DoneAll(context.Background(), answers) {
		if err != nil {
			t.Fatal(err)
		}
	}
	st2, err := state.Open(crashed, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	check := func(when string, wantDone bool) {
		t.Helper()
		for i, p := range paths {
			var f state.File
			var d state.Doc
			if err := st2.View(func(tx *state.Tx) error {
				f, _, _ = tx.File(p)
				d, _, _ = tx.Doc(answers[i].Key)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if d.State != state.DocDone {
				t.Errorf("%s: document of %s is %s, want done (anything else is sent, and charged, again)", when, p, d.State)
			}
			if f.State == state.FileDone {
				if _, err := os.Stat(f.Result); err != nil {
					t.Errorf("%s: %s recorded done without its result: %v", when, p, err)
				}
			}
			if (f.State == state.FileDone) != wantDone {
				t.Errorf("%s: %s is %s", when, p, f.State)
			}
		}
	}
	check("after the stop", false)
	// The next run: the files waiting on finished documents are written
	// from the stored answers and recorded.
	fin2 := finish.New(finish.Options{Store: st2, Inboxes: []finish.Inbox{{Path: inbox}}})
	if err := fin2.Recover(); err != nil {
		t.Fatal(err)
	}
	fin2.RetryPending(context.Background())
	check("after the restart", true)
	if !fin2.Idle() {
		t.Error("documents still pending after the restart wrote them")
	}
}
