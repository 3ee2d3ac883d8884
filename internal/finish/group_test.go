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
	st := openStore(t)
	inbox := filepath.Join(t.TempDir(), "inbox")
	var answers []finish.Answer
	var paths []string
	for i := range 12 {
		name := fmt.Sprintf("f%02d.pdf", i)
		p, k := submitted(t, st, inbox, inbox, name, true)
		paths = append(paths, p)
		answers = append(answers, finish.Answer{Key: k, Doc: doc(t, completed(t, name))})
	}
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox}}})
	before := st.Commits()
	for i, err := range fin.DoneAll(context.Background(), answers) {
		if err != nil {
			t.Errorf("answer %d: %v", i, err)
		}
	}
	if got := st.Commits() - before; got != 2 {
		t.Errorf("12 answers of one poll took %d commits, want 2 (the answers, then the files)", got)
	}
	for _, p := range paths {
		if s := fileState(t, st, p); s != state.FileDone {
			t.Errorf("%s: %s, want done", p, s)
		}
		if _, err := os.Stat(p + ".json"); err != nil {
			t.Errorf("result of %s: %v", p, err)
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
