package finish_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/state"
)

// submitted puts a file named name into folder (inside inbox) with a
// submitted document waiting for it; it returns the file's path and the
// document's key. With write false the file is taken as already there
// (written some other way).
func submitted(t testing.TB, st *state.Store, inbox, folder, name string, write bool) (string, string) {
	t.Helper()
	p := filepath.Join(folder, name)
	if write {
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("%PDF-1.4 x %%EOF"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sha := p + "-sha"
	key := state.DocKey("prs", sha)
	if err := st.Update(func(tx *state.Tx) error {
		if err := tx.SeedFile(state.File{Path: p, Inbox: inbox, ParserID: "prs", SHA256: sha, Pages: 1, State: state.FileQueued}); err != nil {
			return err
		}
		return tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: sha, Pages: 1, State: state.DocSubmitted,
			Files: []string{p}, UploadName: name, DocumentID: "doc_" + name})
	}); err != nil {
		t.Fatal(err)
	}
	return p, key
}

func openStore(t testing.TB) *state.Store {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func fileState(t testing.TB, st *state.Store, p string) state.FileState {
	t.Helper()
	var f state.File
	if err := st.View(func(tx *state.Tx) error { f, _, _ = tx.File(p); return nil }); err != nil {
		t.Fatal(err)
	}
	return f.State
}

func completed(t *testing.T, name string) string {
	return fmt.Sprintf(`{"document_id":"doc_%s","filename":%q,"status":"completed","page_count":1}`, name, name)
}

// The results finished together (one poll's documents) sync each folder
// they went to once, not once per file, and a file is recorded done only
// after its folder's sync: at every sync, none of the files in that folder
// is recorded yet, and after the batch all of them are.
func TestBatchSyncsEachFolderOnceBeforeRecording(t *testing.T) {
	st := openStore(t)
	inbox := filepath.Join(t.TempDir(), "inbox")
	folders := []string{inbox, filepath.Join(inbox, "sub")}
	type file struct{ path, key, name string }
	var files []file
	for i := range 12 {
		folder := folders[i%2]
		name := fmt.Sprintf("f%02d.pdf", i)
		p, k := submitted(t, st, inbox, folder, name, true)
		files = append(files, file{p, k, name})
	}
	var mu sync.Mutex
	syncs := map[string]int{}
	var early []string
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox}},
		SyncDir: func(dir string) error {
			mu.Lock()
			defer mu.Unlock()
			syncs[dir]++
			for _, f := range files {
				if filepath.Dir(f.path) == dir && fileState(t, st, f.path) == state.FileDone {
					early = append(early, f.path)
				}
			}
			return nil
		}})
	ctx := context.Background()
	fin.Batch(ctx, func(ctx context.Context) {
		for _, f := range files {
			if err := fin.Done(ctx, f.key, doc(t, completed(t, f.name))); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, dir := range folders {
		if syncs[dir] != 1 {
			t.Errorf("%s synced %d times for 6 results finished together; want once", dir, syncs[dir])
		}
	}
	if len(syncs) != len(folders) {
		t.Errorf("synced %v; want exactly the two result folders", syncs)
	}
	if len(early) > 0 {
		t.Errorf("recorded done before their folder was synced: %v", early)
	}
	for _, f := range files {
		if s := fileState(t, st, f.path); s != state.FileDone {
			t.Errorf("%s: %s after the batch, want done", f.path, s)
		}
		if _, err := os.Stat(f.path + ".json"); err != nil {
			t.Errorf("result of %s: %v", f.path, err)
		}
	}
	if !fin.Idle() {
		t.Error("documents still pending after the batch")
	}
}

// A folder that cannot be synced leaves its results unrecorded and
// pending (they are written again), while the other folder's are done.
func TestFolderSyncFailureKeepsResultsPending(t *testing.T) {
	st := openStore(t)
	inbox := filepath.Join(t.TempDir(), "inbox")
	bad := filepath.Join(inbox, "bad")
	a, ka := submitted(t, st, inbox, inbox, "a.pdf", true)
	b, kb := submitted(t, st, inbox, bad, "b.pdf", true)
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox}},
		SyncDir: func(dir string) error {
			if dir == bad {
				return fmt.Errorf("sync %s: %w", dir, os.ErrInvalid)
			}
			return nil
		}})
	fin.Batch(context.Background(), func(ctx context.Context) {
		_ = fin.Done(ctx, ka, doc(t, completed(t, "a.pdf")))
		_ = fin.Done(ctx, kb, doc(t, completed(t, "b.pdf")))
	})
	if s := fileState(t, st, a); s != state.FileDone {
		t.Errorf("a.pdf: %s, want done", s)
	}
	if s := fileState(t, st, b); s != state.FileQueued {
		t.Errorf("b.pdf: %s, want still waiting (its folder was not synced)", s)
	}
	if fin.Idle() || fin.WriteErrors() != 1 {
		t.Errorf("idle %v, write errors %d: want b.pdf pending and one error", fin.Idle(), fin.WriteErrors())
	}
}

// logLines collects what a Finisher logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// except returns the lines that do not contain any of skip.
func (l *logLines) except(skip ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, s := range l.lines {
		for _, k := range skip {
			if strings.Contains(s, k) {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}
