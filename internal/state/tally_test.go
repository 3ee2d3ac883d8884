package state_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/state"
)

// counts is an inbox's tally as the test expects it: records by state, and
// the moved ones by state.
type counts struct{ files, moved map[state.FileState]int }

// scanned computes every inbox's tally and error list from all records,
// the way the tally replaces.
func scanned(t *testing.T, s *state.Store) (map[string]counts, map[string][]string) {
	t.Helper()
	tally := map[string]counts{}
	errs := map[string][]state.File{}
	if err := s.View(func(tx *state.Tx) error {
		return tx.Files(func(f state.File) error {
			c, ok := tally[f.Inbox]
			if !ok {
				c = counts{map[state.FileState]int{}, map[state.FileState]int{}}
				tally[f.Inbox] = c
			}
			c.files[f.State]++
			if f.MovedTo != "" {
				c.moved[f.State]++
			}
			if state.FileWithoutResult(f.State) {
				errs[f.Inbox] = append(errs[f.Inbox], f)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	paths := map[string][]string{}
	for in, fs := range errs {
		slices.SortFunc(fs, func(a, b state.File) int {
			if c := b.Updated.Compare(a.Updated); c != 0 {
				return c
			}
			return strings.Compare(b.Path, a.Path)
		})
		for _, f := range fs {
			paths[in] = append(paths[in], f.Path)
		}
	}
	return tally, paths
}

// agree fails the test unless the tally and the error index of every
// inbox named in want (and every inbox with records) match both want and
// a scan of the records, and Check passes.
func agree(t *testing.T, s *state.Store, want map[string]counts) {
	t.Helper()
	scan, scanErrs := scanned(t, s)
	inboxes := map[string]bool{}
	for in := range want {
		inboxes[in] = true
	}
	for in := range scan {
		inboxes[in] = true
	}
	if err := s.View(func(tx *state.Tx) error {
		for in := range inboxes {
			got, err := tx.Tally(in)
			if err != nil {
				return err
			}
			w, sc := want[in], scan[in]
			for _, m := range []struct {
				name           string
				got, want, scn map[state.FileState]int
			}{{"files", got.Files, w.files, sc.files}, {"moved", got.Moved, w.moved, sc.moved}} {
				if !maps.Equal(m.got, nonNil(m.want)) || !maps.Equal(m.got, nonNil(m.scn)) {
					t.Errorf("inbox %q: tally of %s %v, want %v, records say %v", in, m.name, m.got, m.want, m.scn)
				}
			}
			var errs []string
			if err := tx.RecentErrors(in, 0, func(f state.File) error { errs = append(errs, f.Path); return nil }); err != nil {
				return err
			}
			if !slices.Equal(errs, scanErrs[in]) {
				t.Errorf("inbox %q: recent errors %q, records say %q", in, errs, scanErrs[in])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("check: %v", err)
	}
}

func nonNil(m map[state.FileState]int) map[state.FileState]int {
	if m == nil {
		return map[state.FileState]int{}
	}
	return m
}

func TestTallyFollowsEveryWrite(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	raw := "/in/\xff\xfe" // an inbox whose name is not valid UTF-8
	steps := []struct {
		name  string
		write func(tx *state.Tx) error
		want  map[string]counts
	}{
		{"new records", func(tx *state.Tx) error {
			return errorsJoin(
				tx.SeedFile(state.File{Path: "/in/a.pdf", Inbox: "/in", State: state.FileQueued, Updated: t0}),
				tx.SeedFile(state.File{Path: "/in/b.pdf", Inbox: "/in", State: state.FileQueued, Updated: t0}),
				tx.SeedFile(state.File{Path: "/in2/c.pdf", Inbox: "/in2", State: state.FileFailed, Updated: t0}))
		}, map[string]counts{
			"/in":  {files: map[state.FileState]int{state.FileQueued: 2}},
			"/in2": {files: map[state.FileState]int{state.FileFailed: 1}},
		}},
		{"state change", func(tx *state.Tx) error {
			return errorsJoin(
				tx.SeedFile(state.File{Path: "/in/a.pdf", Inbox: "/in", State: state.FileDone, Updated: t0.Add(time.Minute)}),
				tx.SeedFile(state.File{Path: "/in/b.pdf", Inbox: "/in", State: state.FileInvalid, Updated: t0.Add(time.Minute)}))
		}, map[string]counts{
			"/in":  {files: map[state.FileState]int{state.FileDone: 1, state.FileInvalid: 1}},
			"/in2": {files: map[state.FileState]int{state.FileFailed: 1}},
		}},
		{"rewrite in the same state, later", func(tx *state.Tx) error {
			return tx.SeedFile(state.File{Path: "/in/b.pdf", Inbox: "/in", State: state.FileInvalid, Reason: "again", Updated: t0.Add(time.Hour)})
		}, map[string]counts{
			"/in":  {files: map[state.FileState]int{state.FileDone: 1, state.FileInvalid: 1}},
			"/in2": {files: map[state.FileState]int{state.FileFailed: 1}},
		}},
		{"moved after its result", func(tx *state.Tx) error {
			return tx.SeedFile(state.File{Path: "/in/a.pdf", Inbox: "/in", State: state.FileDone, MovedTo: "/done/a.pdf", Updated: t0.Add(time.Minute)})
		}, map[string]counts{
			"/in":  {files: map[state.FileState]int{state.FileDone: 1, state.FileInvalid: 1}, moved: map[state.FileState]int{state.FileDone: 1}},
			"/in2": {files: map[state.FileState]int{state.FileFailed: 1}},
		}},
		{"inbox change", func(tx *state.Tx) error {
			return tx.SeedFile(state.File{Path: "/in2/c.pdf", Inbox: "/in", State: state.FileFailed, Updated: t0})
		}, map[string]counts{
			"/in": {files: map[state.FileState]int{state.FileDone: 1, state.FileInvalid: 1, state.FileFailed: 1}, moved: map[state.FileState]int{state.FileDone: 1}},
		}},
		{"new life of a moved file", func(tx *state.Tx) error {
			return tx.SeedFile(state.File{Path: "/in/a.pdf", Inbox: "/in", State: state.FileQueued, Updated: t0.Add(2 * time.Hour)})
		}, map[string]counts{
			"/in": {files: map[state.FileState]int{state.FileQueued: 1, state.FileInvalid: 1, state.FileFailed: 1}},
		}},
		{"delete", func(tx *state.Tx) error {
			return errorsJoin(tx.SeedDeleteFile("/in/b.pdf"), tx.SeedDeleteFile("/in/never.pdf"))
		}, map[string]counts{
			"/in": {files: map[state.FileState]int{state.FileQueued: 1, state.FileFailed: 1}},
		}},
		{"raw names", func(tx *state.Tx) error {
			return errorsJoin(
				tx.SeedFile(state.File{Path: raw + "/x\xff.pdf", Inbox: raw, State: state.FileGone, Updated: t0}),
				tx.SeedFile(state.File{Path: raw + "/y.pdf", Inbox: raw, State: state.FileDone, MovedTo: "/done/\xfe.pdf", Updated: t0}),
				tx.SeedFile(state.File{Path: raw + "/x\xff.pdf", Inbox: raw, State: state.FileFailed, Updated: t0.Add(time.Second)}))
		}, map[string]counts{
			"/in": {files: map[state.FileState]int{state.FileQueued: 1, state.FileFailed: 1}},
			raw:   {files: map[state.FileState]int{state.FileFailed: 1, state.FileDone: 1}, moved: map[state.FileState]int{state.FileDone: 1}},
		}},
		{"raw names deleted", func(tx *state.Tx) error {
			return errorsJoin(tx.SeedDeleteFile(raw+"/x\xff.pdf"), tx.SeedDeleteFile(raw+"/y.pdf"))
		}, map[string]counts{
			"/in": {files: map[state.FileState]int{state.FileQueued: 1, state.FileFailed: 1}},
		}},
	}
	for _, st := range steps {
		if err := s.Update(st.write); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		t.Run(st.name, func(t *testing.T) { agree(t, s, st.want) })
	}
}

func TestRecentErrorsNewestFirstPerInbox(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := s.Update(func(tx *state.Tx) error {
		return errorsJoin(
			tx.SeedFile(state.File{Path: "/in/old.pdf", Inbox: "/in", State: state.FileFailed, Updated: t0.Add(-time.Hour)}),
			tx.SeedFile(state.File{Path: "/in/zero.pdf", Inbox: "/in", State: state.FileGone}),
			tx.SeedFile(state.File{Path: "/in/1969.pdf", Inbox: "/in", State: state.FileInvalid, Updated: time.Unix(-5, 0)}),
			tx.SeedFile(state.File{Path: "/in/new.pdf", Inbox: "/in", State: state.FileInvalid, Updated: t0.Add(time.Nanosecond)}),
			tx.SeedFile(state.File{Path: "/in/mid.pdf", Inbox: "/in", State: state.FileFailed, Updated: t0.In(time.FixedZone("X", 3600))}),
			tx.SeedFile(state.File{Path: "/in/done.pdf", Inbox: "/in", State: state.FileDone, Updated: t0.Add(time.Hour)}),
			// Inboxes whose names extend /in are not /in.
			tx.SeedFile(state.File{Path: "/in2/x.pdf", Inbox: "/in2", State: state.FileFailed, Updated: t0.Add(2 * time.Hour)}),
			tx.SeedFile(state.File{Path: "/in/sub/y.pdf", Inbox: "/in/sub", State: state.FileFailed, Updated: t0.Add(2 * time.Hour)}))
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		limit int
		want  []string
	}{
		{0, []string{"/in/new.pdf", "/in/mid.pdf", "/in/old.pdf", "/in/1969.pdf", "/in/zero.pdf"}},
		{-1, []string{"/in/new.pdf", "/in/mid.pdf", "/in/old.pdf", "/in/1969.pdf", "/in/zero.pdf"}},
		{2, []string{"/in/new.pdf", "/in/mid.pdf"}},
		{10, []string{"/in/new.pdf", "/in/mid.pdf", "/in/old.pdf", "/in/1969.pdf", "/in/zero.pdf"}},
	} {
		var got []string
		if err := s.View(func(tx *state.Tx) error {
			return tx.RecentErrors("/in", c.limit, func(f state.File) error { got = append(got, f.Path); return nil })
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("limit %d: %q, want %q", c.limit, got, c.want)
		}
	}
	agree(t, s, map[string]counts{
		"/in":     {files: map[state.FileState]int{state.FileFailed: 2, state.FileInvalid: 2, state.FileGone: 1, state.FileDone: 1}},
		"/in2":    {files: map[state.FileState]int{state.FileFailed: 1}},
		"/in/sub": {files: map[state.FileState]int{state.FileFailed: 1}},
	})
}

func TestPruneKeepsTheTally(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old := now.Add(-200 * 24 * time.Hour)
	s := openStore(t, filepath.Join(dir, "state.db"))
	defer s.Close()
	onDisk := map[string]bool{"/in": true, "/in/kept.pdf": true, "/in/old.pdf": true, "/in/old.pdf.json": true, "/in/failed.pdf": true}
	if err := s.Update(func(tx *state.Tx) error {
		return errorsJoin(
			tx.SeedFile(state.File{Path: "/in/kept.pdf", Inbox: "/in", State: state.FileDone, Result: "/in/kept.pdf.json", Updated: now}),
			tx.SeedFile(state.File{Path: "/in/old.pdf", Inbox: "/in", State: state.FileDone, Result: "/in/old.pdf.json", Updated: old}),
			tx.SeedFile(state.File{Path: "/in/moved.pdf", Inbox: "/in", State: state.FileDone, MovedTo: "/out/moved.pdf", Updated: now}),
			tx.SeedFile(state.File{Path: "/in/gone.pdf", Inbox: "/in", State: state.FileGone, Updated: now}),
			tx.SeedFile(state.File{Path: "/in/failed.pdf", Inbox: "/in", State: state.FileFailed, Updated: now}),
			tx.SeedFile(state.File{Path: "/in/failed-deleted.pdf", Inbox: "/in", State: state.FileFailed, Updated: now}),
			tx.SeedFile(state.File{Path: "/in/queued.pdf", Inbox: "/in", State: state.FileQueued, Updated: old}))
	}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Prune(context.Background(), now, state.DefaultRetention, func(p string) bool { return onDisk[p] })
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 4 {
		t.Errorf("pruned %d files, want 4", st.Files)
	}
	agree(t, s, map[string]counts{
		"/in": {files: map[state.FileState]int{state.FileDone: 1, state.FileFailed: 1, state.FileQueued: 1}},
	})
}

// A schema-2 file (no tally) gains the tally and the error index when
// opened for writing, and can be read without them when opened read-only.
func TestMigrationBuildsTheTally(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	raw := "/\xe4rger"
	if err := s.Update(func(tx *state.Tx) error {
		return errorsJoin(
			tx.SeedFile(state.File{Path: "/in/a.pdf", Inbox: "/in", State: state.FileDone, Updated: t0}),
			tx.SeedFile(state.File{Path: "/in/b.pdf", Inbox: "/in", State: state.FileDone, MovedTo: "/out/b.pdf", Updated: t0}),
			tx.SeedFile(state.File{Path: "/in/c.pdf", Inbox: "/in", State: state.FileFailed, Updated: t0}),
			tx.SeedFile(state.File{Path: "/in/d.pdf", Inbox: "/in", State: state.FileQueued, Updated: t0}),
			tx.SeedFile(state.File{Path: raw + "/e.pdf", Inbox: raw, State: state.FileInvalid, Updated: t0.Add(time.Second)}),
			tx.SeedFile(state.File{Path: raw + "/f.pdf", Inbox: raw, State: state.FileGone, Updated: t0}))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Back to what schema 2 wrote: the same records without the new buckets.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return errorsJoin(tx.DeleteBucket([]byte("tally")), tx.DeleteBucket([]byte("errs")),
			tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("2")))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	want := map[string]counts{
		"/in": {files: map[state.FileState]int{state.FileDone: 2, state.FileFailed: 1, state.FileQueued: 1}, moved: map[state.FileState]int{state.FileDone: 1}},
		raw:   {files: map[state.FileState]int{state.FileInvalid: 1, state.FileGone: 1}},
	}

	ro, err := state.OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ro.Schema(); v != 2 {
		t.Fatalf("read-only open changed the schema to %d", v)
	}
	t.Run("read-only schema 2", func(t *testing.T) { agree(t, ro, want) })
	ro.Close()

	s = openStore(t, path)
	defer s.Close()
	if v, _ := s.Schema(); v != state.SchemaVersion {
		t.Fatalf("schema %d after migration, want %d", v, state.SchemaVersion)
	}
	if err := s.View(func(tx *state.Tx) error {
		got, err := tx.Tally("/in")
		if err != nil || got.Files[state.FileDone] != 2 {
			t.Errorf("tally after migration %+v, %v", got, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Run("migrated", func(t *testing.T) { agree(t, s, want) })
}

func TestCheckFindsATallyOutOfStep(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, want string
		damage     func(tx *bolt.Tx) error
	}{
		{"count changed", "inbox /in, state done", func(tx *bolt.Tx) error {
			v := make([]byte, 8)
			binary.BigEndian.PutUint64(v, 7)
			return tx.Bucket([]byte("tally")).Put([]byte("/in\x00done"), v)
		}},
		{"count lost", "inbox /in, state failed", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("tally")).Delete([]byte("/in\x00failed"))
		}},
		{"count of nothing", "inbox /other, state done", func(tx *bolt.Tx) error {
			v := make([]byte, 8)
			binary.BigEndian.PutUint64(v, 1)
			return tx.Bucket([]byte("tally")).Put([]byte("/other\x00done"), v)
		}},
		{"error index emptied", "/in/c.pdf", func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket([]byte("errs")); err != nil {
				return err
			}
			_, err := tx.CreateBucket([]byte("errs"))
			return err
		}},
		{"record changed behind the tally", "inbox /in, state", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("files")).Put([]byte("/in/a.pdf"), []byte(`{"path":"/in/a.pdf","inbox":"/in","state":"gone"}`))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			s := openStore(t, path)
			if err := s.Update(func(tx *state.Tx) error {
				return errorsJoin(
					tx.SeedFile(state.File{Path: "/in/a.pdf", Inbox: "/in", State: state.FileDone, Updated: t0}),
					tx.SeedFile(state.File{Path: "/in/c.pdf", Inbox: "/in", State: state.FileFailed, Updated: t0}))
			}); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(); err != nil {
				t.Fatalf("a consistent state fails the check: %v", err)
			}
			s.Close()
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(c.damage); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s = openStore(t, path)
			defer s.Close()
			err = s.Check()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "damaged") {
				t.Fatalf("Check of a damaged tally: %v, want an error naming %q", err, c.want)
			}
		})
	}
}

// FilesWithoutResult reads the files that ended without a result in every
// inbox, from the index, and agrees with a search of every record.
func TestFilesWithoutResultAcrossInboxes(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	states := []state.FileState{state.FileDone, state.FileFailed, state.FileInvalid, state.FileGone, state.FileQueued, state.FileDuplicate}
	want := map[string]bool{}
	if err := s.Update(func(tx *state.Tx) error {
		for i := range 60 {
			inbox := fmt.Sprintf("/in/%d", i%3)
			f := state.File{Path: fmt.Sprintf("%s/%03d.pdf", inbox, i), Inbox: inbox, State: states[i%len(states)], Updated: time.Unix(int64(1000+i), 0)}
			if state.FileWithoutResult(f.State) {
				want[f.Path] = true
			}
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	if err := s.View(func(tx *state.Tx) error {
		return tx.FilesWithoutResult(func(f state.File) error {
			if got[f.Path] {
				return fmt.Errorf("%s twice", f.Path)
			}
			got[f.Path] = true
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) != 30 || !maps.Equal(got, want) {
		t.Errorf("got %d files %v, want %d %v", len(got), got, len(want), want)
	}
}
