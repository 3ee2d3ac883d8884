package state_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/state"
)

// seedState writes n done file records under inbox, each with a document
// whose result is resultSize bytes, last updated at updated; then compacts
// the file offline, so it starts without free pages, as a state grown
// over time does.
func seedState(t *testing.T, path, inbox string, n, resultSize int, updated time.Time) {
	t.Helper()
	s := openStore(t, path)
	result := []byte(`"` + strings.Repeat("x", resultSize) + `"`)
	for start := 0; start < n; start += 1000 {
		if err := s.Update(func(tx *state.Tx) error {
			for i := start; i < min(start+1000, n); i++ {
				p := filepath.Join(inbox, fmt.Sprintf("f%06d.pdf", i))
				sha := fmt.Sprintf("%064d", i)
				if err := tx.SeedFile(state.File{Path: p, Inbox: inbox, ParserID: "prs", SHA256: sha, State: state.FileDone, Updated: updated}); err != nil {
					return err
				}
				if err := tx.SeedDoc(state.Doc{Key: state.DocKey("prs", sha), ParserID: "prs", SHA256: sha, State: state.DocDone,
					Files: []string{p}, Result: result, Updated: updated}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := state.Compact(path, time.Second); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// freeMost deletes every file record but one in ten, leaving their pages free.
func freeMost(t *testing.T, s *state.Store, inbox string, n int) {
	t.Helper()
	if err := s.Update(func(tx *state.Tx) error {
		for i := range n {
			if i%10 != 0 {
				if err := tx.SeedDeleteFile(filepath.Join(inbox, fmt.Sprintf("f%06d.pdf", i))); err != nil {
					return err
				}
				if err := tx.SeedDoc(state.Doc{Key: state.DocKey("prs", fmt.Sprintf("%064d", i)), State: state.DocDone}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func noTemp(t *testing.T, path string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".compact") {
			t.Errorf("%s left behind", e.Name())
		}
	}
}

// TestCompactInPlaceWhileReadingAndWriting compacts a store twice while
// writers and readers keep using it: nothing fails, nothing written is
// lost, versions keep growing, and the file shrinks and stays 0600.
func TestCompactInPlaceWhileReadingAndWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	inbox := filepath.Join(dir, "inbox")
	const n = 3000
	seedState(t, path, inbox, n, 1000, time.Now())
	s := openStore(t, path)
	defer s.Close()
	freeMost(t, s, inbox, n)
	before := fileSize(t, path)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var written []string
	errs := make(chan error, 8)
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Sprintf("/live/w%d-%06d.pdf", w, i)
				if err := s.Update(func(tx *state.Tx) error {
					return tx.SeedFile(state.File{Path: p, Inbox: "/live", State: state.FileDone, Updated: time.Now()})
				}); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				mu.Lock()
				written = append(written, p)
				mu.Unlock()
			}
		})
	}
	for r := range 2 {
		wg.Go(func() {
			var last uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				var v uint64
				if err := s.View(func(tx *state.Tx) error {
					v = tx.Version()
					_, ok, err := tx.File(filepath.Join(inbox, fmt.Sprintf("f%06d.pdf", 10)))
					if err == nil && !ok {
						err = errors.New("a kept record is missing")
					}
					return err
				}); err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				if v < last {
					errs <- fmt.Errorf("reader %d: version went back from %d to %d", r, last, v)
					return
				}
				last = v
			}
		})
	}
	waitWritten := func(k int) {
		deadline := time.Now().Add(patience.Scale(10 * time.Second))
		for {
			mu.Lock()
			got := len(written)
			mu.Unlock()
			if got >= k {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d writes in 10s", got)
			}
			runtime.Gosched()
		}
	}
	waitWritten(50)
	cs, err := s.CompactInPlace()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	at := len(written)
	mu.Unlock()
	waitWritten(at + 50)
	if _, err := s.CompactInPlace(); err != nil {
		t.Fatal(err)
	}
	waitWritten(at + 100)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d bytes (%d free) before, %d after; %d writes meanwhile", cs.Before, cs.FreeBefore, cs.After, len(written))
	if cs.Before != before || cs.After >= before/3 || fileSize(t, path) >= before/3 {
		t.Errorf("file %d bytes before, %d after (stats %+v): expected it to shrink by more than two thirds", before, fileSize(t, path), cs)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("compacted file: %v %v, want mode 0600", fi.Mode(), err)
		}
	}
	noTemp(t, path)
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	// Everything written before and during is in the file, also after it
	// is closed and opened again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	if err := s.View(func(tx *state.Tx) error {
		for _, p := range written {
			if _, ok, err := tx.File(p); err != nil || !ok {
				return fmt.Errorf("record %s written during compaction: present %v, %v", p, ok, err)
			}
		}
		kept := 0
		if err := tx.Files(func(f state.File) error {
			if f.Inbox == inbox {
				kept++
			}
			return nil
		}); err != nil {
			return err
		}
		if kept != n/10 {
			return fmt.Errorf("%d records written before compaction, want %d", kept, n/10)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestCompactInPlaceNeverFreesTheLock opens the state again, as a second
// ppsync would, while and after it is compacted: each attempt is refused
// as locked.
func TestCompactInPlaceNeverFreesTheLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	inbox := filepath.Join(dir, "inbox")
	const n = 2000
	seedState(t, path, inbox, n, 1000, time.Now())
	s := openStore(t, path)
	defer s.Close()
	freeMost(t, s, inbox, n)

	// A second Open begins just before the rename: it waits for the old
	// file's lock, gets it when the old file is closed, finds the file
	// replaced and waits for the new one's, which is held.
	second := make(chan error, 1)
	state.SetCompactFault(s, func(step string) error {
		if step == "rename" {
			go func() {
				o, err := state.Open(path, 300*time.Millisecond)
				if err == nil {
					o.Close()
				}
				second <- err
			}()
		}
		return nil
	})
	if _, err := s.CompactInPlace(); err != nil {
		t.Fatal(err)
	}
	if err := <-second; !errors.Is(err, state.ErrLocked) {
		t.Errorf("Open during compaction: %v, want ErrLocked", err)
	}
	state.SetCompactFault(s, nil)

	// Attempts in a loop while the store compacts again and again.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			o, err := state.Open(path, 10*time.Millisecond)
			if err == nil {
				o.Close()
			}
			if !errors.Is(err, state.ErrLocked) {
				t.Errorf("Open during compaction: %v, want ErrLocked", err)
				return
			}
		}
	})
	for range 5 {
		if _, err := s.CompactInPlace(); err != nil {
			t.Error(err)
		}
	}
	close(done)
	wg.Wait()
	if o, err := state.Open(path, 50*time.Millisecond); !errors.Is(err, state.ErrLocked) {
		if err == nil {
			o.Close()
		}
		t.Errorf("Open after compaction: %v, want ErrLocked", err)
	}
	if o, err := state.OpenReadOnly(path, 50*time.Millisecond); !errors.Is(err, state.ErrLocked) {
		if err == nil {
			o.Close()
		}
		t.Errorf("OpenReadOnly after compaction: %v, want ErrLocked", err)
	}
}

// TestCompactInPlaceFailureKeepsTheOldFile fails compaction at each step
// before the rename: the store goes on with its file, which keeps its size
// and every record, the copy is removed, and the error says what to do.
func TestCompactInPlaceFailureKeepsTheOldFile(t *testing.T) {
	for _, step := range []string{"squatted", "copy", "sync", "rename"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.db")
			inbox := filepath.Join(dir, "inbox")
			const n = 1000
			seedState(t, path, inbox, n, 500, time.Now())
			s := openStore(t, path)
			defer s.Close()
			freeMost(t, s, inbox, n)
			before := fileSize(t, path)
			tmp := filepath.Join(dir, ".state.db.compact")
			if step == "squatted" {
				// A folder where the copy goes, that cannot be removed.
				if err := os.MkdirAll(filepath.Join(tmp, "inside"), 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				state.SetCompactFault(s, func(at string) error {
					if at == step {
						return errors.New("injected failure")
					}
					return nil
				})
			}
			_, err := s.CompactInPlace()
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "goes on with the file as it was") ||
				!strings.Contains(err.Error(), "ppsync state compact") {
				t.Fatalf("failed compaction: %v", err)
			}
			if step != "squatted" {
				noTemp(t, path)
			}
			if got := fileSize(t, path); got != before {
				t.Errorf("file %d bytes after a failed compaction, %d before", got, before)
			}
			if err := s.Update(func(tx *state.Tx) error {
				return tx.SeedFile(state.File{Path: "/after/a.pdf", State: state.FileDone})
			}); err != nil {
				t.Fatalf("write after a failed compaction: %v", err)
			}
			if err := s.Check(); err != nil {
				t.Fatal(err)
			}
			if f := s.WriteFault(); f != "" {
				t.Errorf("a failed compaction reported as a write fault: %s", f)
			}
			// The store is still the one at the path: a later compaction works.
			state.SetCompactFault(s, nil)
			if step == "squatted" {
				if err := os.RemoveAll(tmp); err != nil {
					t.Fatal(err)
				}
			}
			cs, err := s.CompactInPlace()
			if err != nil {
				t.Fatal(err)
			}
			if cs.After >= before {
				t.Errorf("compaction after the failure: %+v", cs)
			}
			if err := s.View(func(tx *state.Tx) error {
				if _, ok, err := tx.File("/after/a.pdf"); !ok || err != nil {
					return fmt.Errorf("record written after the failure: %v %v", ok, err)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPruneCompactsInPlaceAsItGoes prunes a state of 20,000 records of
// files deleted long ago, larger than CompactMinSize: the prune compacts
// the file before it ends, so it never holds most of it free, and leaves a
// file a fraction of the size.
func TestPruneCompactsInPlaceAsItGoes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	inbox := filepath.Join(dir, "inbox")
	if err := os.Mkdir(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	seedState(t, path, inbox, n, 2400, time.Now().Add(-400*24*time.Hour))
	before := fileSize(t, path)
	if before <= state.CompactMinSize {
		t.Fatalf("seeded state of %d bytes, want more than %d", before, state.CompactMinSize)
	}
	s := openStore(t, path)
	defer s.Close()
	ps, err := s.Prune(context.Background(), time.Now(), state.DefaultRetention, func(p string) bool { return p == inbox })
	if err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, path)
	sp, err := s.Space()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prune: %+v; file %d bytes before, %d after (%d free)", ps, before, after, sp.FreeBytes)
	if ps.Files != n || ps.Docs != n || ps.CompactErr != nil {
		t.Fatalf("pruned %+v, want %d files and documents and no compaction error", ps, n)
	}
	if ps.Compactions < 1 || ps.SizeBefore <= state.CompactMinSize || ps.SizeAfter >= ps.SizeBefore/2 {
		t.Errorf("compactions %d, %d bytes before, %d after: want at least one that halved the file", ps.Compactions, ps.SizeBefore, ps.SizeAfter)
	}
	if after >= before/2 {
		t.Errorf("file %d bytes after the prune, %d before", after, before)
	}
	// Records were deleted after the last compaction: it ran during the
	// prune, not once at its end.
	if sp.FreeBytes == 0 {
		t.Error("no free pages after the prune: it compacted only at its end")
	}
	if sp.Ratio() > state.CompactRatio && after > state.CompactMinSize {
		t.Errorf("prune ended with %d of %d bytes free", sp.FreeBytes, after)
	}
	noTemp(t, path)
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
