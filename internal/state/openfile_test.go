package state_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/state"
)

// EachOpenFile reports open files with their inbox and document state from
// the index alone, reads the record for an entry of an earlier version, and
// state check catches an entry that disagrees with its record.
func TestEachOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	files := []state.File{
		{Path: "/a/queued.pdf", Inbox: "/a", ParserID: "prs", SHA256: "q", State: state.FileQueued},
		{Path: "/a/copy.pdf", Inbox: "/a", ParserID: "prs", SHA256: "q", State: state.FileDuplicate},
		{Path: "/a/sent.pdf", Inbox: "/a", ParserID: "prs", SHA256: "s", State: state.FileQueued},
		{Path: "/b/finished.pdf", Inbox: "/b", ParserID: "prs2", SHA256: "f", State: state.FileQueued},
		{Path: "/b/new.pdf", Inbox: "/b", ParserID: "prs2", State: state.FileQueued},
		{Path: "/b/done.pdf", Inbox: "/b", ParserID: "prs2", SHA256: "d", State: state.FileDone},
	}
	docs := []state.Doc{
		{Key: state.DocKey("prs", "q"), State: state.DocQueued},
		{Key: state.DocKey("prs", "s"), State: state.DocSubmitted},
		{Key: state.DocKey("prs2", "f"), State: state.DocDone},
		{Key: state.DocKey("prs2", "d"), State: state.DocDone},
	}
	if err := s.Update(func(tx *state.Tx) error {
		for _, f := range files {
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		for _, d := range docs {
			if err := tx.SeedDoc(d); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]state.OpenFile{
		"/a/queued.pdf":   {Path: "/a/queued.pdf", State: state.FileQueued, Inbox: "/a", DocKey: "prs:q", DocState: state.DocQueued},
		"/a/copy.pdf":     {Path: "/a/copy.pdf", State: state.FileDuplicate, Inbox: "/a", DocKey: "prs:q", DocState: state.DocQueued},
		"/a/sent.pdf":     {Path: "/a/sent.pdf", State: state.FileQueued, Inbox: "/a", DocKey: "prs:s", DocState: state.DocSubmitted},
		"/b/finished.pdf": {Path: "/b/finished.pdf", State: state.FileQueued, Inbox: "/b", DocKey: "prs2:f"},
		"/b/new.pdf":      {Path: "/b/new.pdf", State: state.FileQueued, Inbox: "/b"},
	}
	check := func(when string) {
		t.Helper()
		got := map[string]state.OpenFile{}
		if err := s.View(func(tx *state.Tx) error {
			return tx.EachOpenFile(func(f state.OpenFile) error {
				// The strings are the transaction's: copy what is kept.
				f = state.OpenFile{Path: strings.Clone(f.Path), State: state.FileState(strings.Clone(string(f.State))), Inbox: strings.Clone(f.Inbox),
					DocKey: strings.Clone(f.DocKey), DocState: state.DocState(strings.Clone(string(f.DocState)))}
				got[f.Path] = f
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d open files, want %d: %v", when, len(got), len(want), got)
		}
		for p, w := range want {
			if got[p] != w {
				t.Errorf("%s: %s = %+v, want %+v", when, p, got[p], w)
			}
		}
		// CountOpenFiles counts the same files by inbox, without their
		// documents.
		wantCounts := map[string]int{}
		for _, w := range want {
			wantCounts[w.Inbox]++
		}
		var counts map[string]int
		if err := s.View(func(tx *state.Tx) error {
			var err error
			counts, err = tx.CountOpenFiles()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(counts) != len(wantCounts) {
			t.Errorf("%s: CountOpenFiles = %v, want %v", when, counts, wantCounts)
		}
		for in, n := range wantCounts {
			if counts[in] != n {
				t.Errorf("%s: CountOpenFiles = %v, want %v", when, counts, wantCounts)
			}
		}
	}
	check("fresh")
	if err := s.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}

	// An entry as an earlier version wrote it (the state alone): the record
	// is read instead, and state check accepts it.
	s.Close()
	setOpenValue(t, path, "/a/sent.pdf", string(state.FileQueued))
	if s, err = state.Open(path, time.Second); err != nil {
		t.Fatal(err)
	}
	check("earlier entry")
	if err := s.Check(); err != nil {
		t.Fatalf("check with an earlier entry: %v", err)
	}

	// An entry that names another inbox than its record is damage.
	s.Close()
	setOpenValue(t, path, "/a/sent.pdf", string(state.FileQueued)+"\x00/elsewhere\x00prs:s")
	if s, err = state.Open(path, time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err == nil {
		t.Fatal("state check accepted an open-index entry that disagrees with its record")
	}
}

func setOpenValue(t *testing.T, path, file, value string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("open"))
		if b == nil {
			return errors.New("no open bucket")
		}
		return b.Put([]byte("f/"+file), []byte(value))
	}); err != nil {
		t.Fatal(err)
	}
}
