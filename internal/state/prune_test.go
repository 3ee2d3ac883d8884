package state_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/state"
)

func openStore(t *testing.T, path string) *state.Store {
	t.Helper()
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPruneKeepsInFlightAndRecentRemovesOldAndGone(t *testing.T) {
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	if err := os.Mkdir(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old := now.Add(-200 * 24 * time.Hour)
	recent := now.Add(-24 * time.Hour)
	onDisk := map[string]bool{inbox: true}
	rec := func(name string, st state.FileState, updated time.Time, exists, resultExists bool) state.File {
		p := filepath.Join(inbox, name)
		f := state.File{Path: p, Inbox: inbox, ParserID: "prs", SHA256: "sha-" + name, State: st, Updated: updated}
		if st == state.FileDone {
			f.Result = p + ".json"
			onDisk[f.Result] = resultExists
		}
		onDisk[p] = exists
		return f
	}
	files := []struct {
		f    state.File
		keep bool
	}{
		{rec("queued-old.pdf", state.FileQueued, old, true, false), true},
		{rec("queued-deleted.pdf", state.FileQueued, old, false, false), true}, // in flight: the daemon decides
		{rec("dup-old.pdf", state.FileDuplicate, old, true, false), true},
		{rec("done-recent.pdf", state.FileDone, recent, true, true), true},
		{rec("done-old.pdf", state.FileDone, old, true, true), false},
		{rec("done-old-no-result.pdf", state.FileDone, old, true, false), true}, // nothing on disk would recognise it
		{rec("done-deleted.pdf", state.FileDone, recent, false, false), false},
		{rec("failed-recent.pdf", state.FileFailed, recent, true, false), true},
		{rec("failed-deleted.pdf", state.FileFailed, recent, false, false), false},
		{rec("gone.pdf", state.FileGone, recent, false, false), false},
	}
	// A file of an inbox that is unreachable is never pruned.
	offline := state.File{Path: "/offline/share/a.pdf", Inbox: "/offline/share", State: state.FileGone, Updated: old}
	docs := []struct {
		d    state.Doc
		keep bool
	}{
		{state.Doc{Key: "prs:old-done", State: state.DocDone, Updated: old}, false},
		{state.Doc{Key: "prs:old-failed", State: state.DocFailed, Updated: old}, false},
		{state.Doc{Key: "prs:recent-done", State: state.DocDone, Updated: recent}, true},
		{state.Doc{Key: "prs:old-submitted", State: state.DocSubmitted, Updated: old}, true},
		{state.Doc{Key: "prs:old-done-waited-on", State: state.DocDone, Updated: old, Files: []string{files[2].f.Path}}, true},
	}
	s := openStore(t, filepath.Join(dir, "state.db"))
	defer s.Close()
	if err := s.Update(func(tx *state.Tx) error {
		for _, f := range files {
			if err := tx.SeedFile(f.f); err != nil {
				return err
			}
		}
		for _, d := range docs {
			if err := tx.SeedDoc(d.d); err != nil {
				return err
			}
		}
		if err := tx.PutBatch(state.Batch{Key: "intent", Created: old}); err != nil {
			return err
		}
		return tx.SeedFile(offline)
	}); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { return onDisk[p] }
	st, err := s.Prune(context.Background(), now, state.DefaultRetention, exists)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if err := s.View(func(tx *state.Tx) error {
		for _, f := range files {
			_, ok, err := tx.File(f.f.Path)
			if err != nil {
				return err
			}
			if ok != f.keep {
				t.Errorf("%s (%s): kept = %v, want %v", filepath.Base(f.f.Path), f.f.State, ok, f.keep)
			}
		}
		for _, d := range docs {
			_, ok, err := tx.Doc(d.d.Key)
			if err != nil {
				return err
			}
			if ok != d.keep {
				t.Errorf("doc %s: kept = %v, want %v", d.d.Key, ok, d.keep)
			}
		}
		if _, ok, _ := tx.File(offline.Path); !ok {
			t.Error("a record of an unreachable inbox was pruned")
		}
		if _, ok, _ := tx.Batch("intent"); !ok {
			t.Error("a batch intent was pruned")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st.Files != 4 || st.Docs != 2 {
		t.Errorf("stats %+v, want 4 files and 2 documents removed", st)
	}
}

func TestPruneStopsWithItsContext(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Prune(ctx, time.Now(), time.Hour, func(string) bool { return true }); err == nil {
		t.Fatal("Prune with a cancelled context returned no error")
	}
}

func TestOpenIndexFollowsStates(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	if err := s.Update(func(tx *state.Tx) error {
		for i, st := range []state.FileState{state.FileQueued, state.FileDone, state.FileDuplicate, state.FileGone} {
			if err := tx.SeedFile(state.File{Path: fmt.Sprintf("/in/%d-%s.pdf", i, st), State: st}); err != nil {
				return err
			}
		}
		for i, st := range []state.DocState{state.DocQueued, state.DocBatched, state.DocSubmitted, state.DocDone, state.DocFailed} {
			if err := tx.SeedDoc(state.Doc{Key: fmt.Sprintf("prs:%d-%s", i, st), State: st}); err != nil {
				return err
			}
		}
		// A queued file that finishes leaves the index; a deleted one too.
		if err := tx.SeedFile(state.File{Path: "/in/0-queued.pdf", State: state.FileDone}); err != nil {
			return err
		}
		if err := tx.SeedFile(state.File{Path: "/in/9-queued.pdf", State: state.FileQueued}); err != nil {
			return err
		}
		return tx.SeedDeleteFile("/in/9-queued.pdf")
	}); err != nil {
		t.Fatal(err)
	}
	var files, docs []string
	if err := s.View(func(tx *state.Tx) error {
		if err := tx.OpenFiles(func(f state.File) error { files = append(files, f.Path); return nil }); err != nil {
			return err
		}
		return tx.OpenDocs(func(d state.Doc) error { docs = append(docs, d.Key); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/in/2-duplicate.pdf"}; !slices.Equal(files, want) {
		t.Errorf("open files %v, want %v", files, want)
	}
	if want := []string{"prs:0-queued", "prs:1-batched", "prs:2-submitted"}; !slices.Equal(docs, want) {
		t.Errorf("open docs %v, want %v", docs, want)
	}
}

// A schema-1 file (no index) gains the index when opened.
func TestMigrationBuildsOpenIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucketIfNotExists([]byte("meta"))
		f, _ := tx.CreateBucketIfNotExists([]byte("files"))
		d, _ := tx.CreateBucketIfNotExists([]byte("docs"))
		if _, err := tx.CreateBucketIfNotExists([]byte("batches")); err != nil {
			return err
		}
		return errorsJoin(m.Put([]byte("schema_version"), []byte("1")),
			f.Put([]byte("/in/a.pdf"), []byte(`{"path":"/in/a.pdf","state":"queued"}`)),
			f.Put([]byte("/in/b.pdf"), []byte(`{"path":"/in/b.pdf","state":"done"}`)),
			d.Put([]byte("prs:x"), []byte(`{"key":"prs:x","state":"submitted"}`)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openStore(t, path)
	defer s.Close()
	var n int
	if err := s.View(func(tx *state.Tx) error {
		if err := tx.OpenFiles(func(f state.File) error {
			if f.Path != "/in/a.pdf" {
				t.Errorf("open file %s", f.Path)
			}
			n++
			return nil
		}); err != nil {
			return err
		}
		return tx.OpenDocs(func(d state.Doc) error { n++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("index holds %d records after migration, want 2", n)
	}
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func TestCompactShrinksAfterPruneKeeps0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path)
	result := strings.Repeat(`{"field":"value"},`, 60)
	old := time.Now().Add(-400 * 24 * time.Hour)
	const n = 5000
	if err := s.Update(func(tx *state.Tx) error {
		for i := range n {
			sha := fmt.Sprintf("%064d", i)
			if err := tx.SeedFile(state.File{Path: fmt.Sprintf("/in/f%05d.pdf", i), Inbox: "/in", State: state.FileDone, SHA256: sha, Updated: old}); err != nil {
				return err
			}
			if err := tx.SeedDoc(state.Doc{Key: state.DocKey("prs", sha), State: state.DocDone, Result: []byte("[" + result + "0]"), Updated: old}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Every other file was deleted from the inbox.
	exists := func(p string) bool {
		if p == "/in" {
			return true
		}
		var i int
		_, err := fmt.Sscanf(filepath.Base(p), "f%05d.pdf", &i)
		return err == nil && i%2 == 0
	}
	st, err := s.Prune(context.Background(), time.Now(), state.DefaultRetention, exists)
	if err != nil {
		t.Fatal(err)
	}
	need, sp, err := s.NeedsCompact(0.3, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st.Files != n/2 || st.Docs != n {
		t.Fatalf("pruned %+v, want %d files and %d documents", st, n/2, n)
	}
	if !need {
		t.Fatalf("NeedsCompact says no with %d of %d bytes free", sp.FreeBytes, sp.FileSize)
	}
	cs, err := state.Compact(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("state file: %d bytes before pruning and compaction (%d free), %d after", cs.Before, sp.FreeBytes, cs.After)
	if cs.After >= cs.Before/2 {
		t.Fatalf("compaction left %d of %d bytes", cs.After, cs.Before)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("compacted file mode %o, want 600", fi.Mode().Perm())
		}
	}
	s = openStore(t, path)
	defer s.Close()
	var left int
	if err := s.View(func(tx *state.Tx) error {
		return tx.Files(func(f state.File) error { left++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if left != n/2 {
		t.Fatalf("%d file records after compaction, want %d", left, n/2)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestCompactRefusesAStateInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path)
	defer s.Close()
	if _, err := state.Compact(path, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "another ppsync") {
		t.Fatalf("Compact of a locked state: %v", err)
	}
}

func TestCheckFindsAnIndexOutOfStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path)
	if err := s.Update(func(tx *state.Tx) error {
		return tx.SeedFile(state.File{Path: "/in/a.pdf", State: state.FileQueued})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("a consistent state fails the check: %v", err)
	}
	s.Close()
	// The record changes behind the index (damage, or a hand edit).
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("files")).Put([]byte("/in/a.pdf"), []byte(`{"path":"/in/a.pdf","state":"done"}`))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = openStore(t, path)
	defer s.Close()
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "/in/a.pdf") {
		t.Fatalf("Check of an index out of step: %v", err)
	}
}
