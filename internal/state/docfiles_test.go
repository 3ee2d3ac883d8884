package state_test

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/state"
)

// TestMigrateFilesListToRecords writes a state file as schema 3 did (each
// document's files in a "files" list of its record, one of them not valid
// UTF-8) and opens it: the lists become records of their own, the first
// file stays the document's first, the waiting files are indexed, and the
// records no longer carry the list.
func TestMigrateFilesListToRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	raw := "/in/\xff\xfe.pdf"
	files := []string{"/in/z-first.pdf", "/in/a.pdf", raw, "/in/done.pdf"}
	key := state.DocKey("prs", "abc")
	s := openStore(t, path)
	if err := s.Update(func(tx *state.Tx) error {
		for _, p := range files {
			st := state.FileDuplicate
			if p == "/in/done.pdf" {
				st = state.FileDone
			}
			if err := tx.SeedFile(state.File{Path: p, Inbox: "/in", ParserID: "prs", SHA256: "abc", State: st}); err != nil {
				return err
			}
		}
		return tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: "abc", State: state.DocSubmitted})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Back to what schema 3 wrote.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		docs := tx.Bucket([]byte("docs"))
		var rec map[string]any
		if err := json.Unmarshal(docs.Get([]byte(key)), &rec); err != nil {
			return err
		}
		delete(rec, "first")
		rec["files"] = []string{files[0], files[1], "\x00raw:" + base64.StdEncoding.EncodeToString([]byte(raw)), files[3]}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return errorsJoin(docs.Put([]byte(key), b), tx.DeleteBucket([]byte("docfiles")), tx.DeleteBucket([]byte("docwait")),
			tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("3")))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Read-only, the old list is read as it is.
	ro, err := state.OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var roFiles []string
	_ = ro.View(func(tx *state.Tx) error {
		return tx.DocFiles(key, func(p string) error { roFiles = append(roFiles, p); return nil })
	})
	ro.Close()
	if !slices.Equal(roFiles, []string{files[0], files[1], raw, files[3]}) {
		t.Errorf("read-only schema 3: files %q", roFiles)
	}

	s = openStore(t, path)
	defer s.Close()
	if v, _ := s.Schema(); v != state.SchemaVersion {
		t.Fatalf("schema %d after migration, want %d", v, state.SchemaVersion)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("check after migration: %v", err)
	}
	var got, waiting []string
	var d state.Doc
	if err := s.View(func(tx *state.Tx) error {
		var err error
		if d, _, err = tx.Doc(key); err != nil {
			return err
		}
		if err := tx.DocFiles(key, func(p string) error { got = append(got, p); return nil }); err != nil {
			return err
		}
		waiting, err = tx.WaitingOn(key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(files))
	if !slices.Equal(got, want) {
		t.Errorf("files after migration %q, want %q", got, want)
	}
	if d.First != files[0] {
		t.Errorf("first file %q, want %q (the list's first)", d.First, files[0])
	}
	if wantWait := slices.DeleteFunc(slices.Clone(want), func(p string) bool { return p == "/in/done.pdf" }); !slices.Equal(waiting, wantWait) {
		t.Errorf("waiting files %q, want %q", waiting, wantWait)
	}
	var stored []byte
	_ = s.Close()
	db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error { stored = slices.Clone(tx.Bucket([]byte("docs")).Get([]byte(key))); return nil })
	db.Close()
	var rec map[string]any
	if err := json.Unmarshal(stored, &rec); err != nil || rec["files"] != nil {
		t.Errorf("document record after migration still carries its list: %s (%v)", stored, err)
	}
}

// TestDetachKeepsAFirstFile checks that the first file passes to another
// attached file when it leaves, and that no first remains with no file.
func TestDetachKeepsAFirstFile(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	if err := s.Update(func(tx *state.Tx) error {
		d := state.Doc{Key: "prs:x", State: state.DocQueued}
		for _, p := range []string{"/in/c.pdf", "/in/b.pdf", "/in/a.pdf"} {
			if added, err := tx.Attach(&d, p); err != nil || !added {
				t.Errorf("attach %s: %v %v", p, added, err)
			}
		}
		if added, _ := tx.Attach(&d, "/in/b.pdf"); added {
			t.Error("a file attached twice")
		}
		for _, step := range []struct{ detach, first string }{
			{"/in/b.pdf", "/in/c.pdf"}, {"/in/c.pdf", "/in/a.pdf"}, {"/in/a.pdf", ""},
		} {
			if err := tx.Detach(&d, step.detach); err != nil {
				return err
			}
			if d.First != step.first {
				t.Errorf("after detaching %s the first is %q, want %q", step.detach, d.First, step.first)
			}
		}
		if tx.OtherFile(d.Key, "") {
			t.Error("files remain after every one was detached")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
