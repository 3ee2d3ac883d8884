package state_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// HandBack gives up the files of one inbox whose documents are still
// queued, and only those: a document shared with another inbox stays for
// that inbox, a batched or sent one keeps its file (its result comes).
func TestHandBackGivesUpOnlyUnsentFilesOfTheInbox(t *testing.T) {
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	file := func(path, inbox, sha string, st state.FileState) state.File {
		return state.File{Path: path, Inbox: inbox, ParserID: "prs", SHA256: sha, State: st, Size: 1}
	}
	files := []state.File{
		file("/a/q.pdf", "/a", "q", state.FileQueued),     // alone in a queued doc: given up, doc removed
		file("/a/s.pdf", "/a", "s", state.FileQueued),     // shares a queued doc with /b/s.pdf: given up, doc kept
		file("/b/s.pdf", "/b", "s", state.FileDuplicate),  // other inbox: kept
		file("/a/sent.pdf", "/a", "x", state.FileQueued),  // submitted: kept
		file("/a/batch.pdf", "/a", "y", state.FileQueued), // batched: kept
		file("/a/done.pdf", "/a", "z", state.FileDone),    // finished: kept
	}
	docs := []state.Doc{
		{Key: state.DocKey("prs", "q"), State: state.DocQueued, Files: []string{"/a/q.pdf"}},
		{Key: state.DocKey("prs", "s"), State: state.DocQueued, Files: []string{"/b/s.pdf", "/a/s.pdf"}},
		{Key: state.DocKey("prs", "x"), State: state.DocSubmitted, Files: []string{"/a/sent.pdf"}},
		{Key: state.DocKey("prs", "y"), State: state.DocBatched, Files: []string{"/a/batch.pdf"}},
		{Key: state.DocKey("prs", "z"), State: state.DocDone, Files: []string{"/a/done.pdf"}},
	}
	if err := s.Update(func(tx *state.Tx) error {
		var errs []error
		for _, f := range files {
			errs = append(errs, tx.SeedFile(f))
		}
		for _, d := range docs {
			errs = append(errs, tx.SeedDoc(d))
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Fatal(err)
	}
	given, err := s.HandBack("/a")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(given)
	if want := []string{"/a/q.pdf", "/a/s.pdf"}; !slices.Equal(given, want) {
		t.Fatalf("given up %v, want %v", given, want)
	}
	err = s.View(func(tx *state.Tx) error {
		for _, p := range []string{"/a/q.pdf", "/a/s.pdf"} {
			if _, ok, _ := tx.File(p); ok {
				t.Errorf("%s still recorded", p)
			}
		}
		for _, p := range []string{"/b/s.pdf", "/a/sent.pdf", "/a/batch.pdf", "/a/done.pdf"} {
			if _, ok, _ := tx.File(p); !ok {
				t.Errorf("%s given up", p)
			}
		}
		if _, ok, _ := tx.Doc(state.DocKey("prs", "q")); ok {
			t.Error("the queued document left with no file is still there (it would be sent)")
		}
		d, ok, _ := tx.Doc(state.DocKey("prs", "s"))
		var attached []string
		_ = tx.DocFiles(d.Key, func(p string) error { attached = append(attached, p); return nil })
		if !ok || !slices.Equal(attached, []string{"/b/s.pdf"}) || d.First != "/b/s.pdf" {
			t.Errorf("shared document = %+v (files %v), %v; want it kept for /b/s.pdf alone", d, attached, ok)
		}
		var open []string
		if err := tx.OpenDocs(func(d state.Doc) error { open = append(open, d.Key); return nil }); err != nil {
			return err
		}
		if slices.Contains(open, state.DocKey("prs", "q")) {
			t.Error("removed document still in the open index")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("state check after the hand-back: %v", err)
	}
}
