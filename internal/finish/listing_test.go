package finish_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// listedEnv is a finisher whose folder lookups are answered from a listing,
// as on a network share, over a local folder.
func listedEnv(t *testing.T) (*finish.Finisher, *state.Store, string) {
	t.Helper()
	st := openStore(t)
	inbox := filepath.Join(t.TempDir(), "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox}}, ListFolder: func(string) bool { return true }})
	return fin, st, inbox
}

// seedWaiting records name in inbox as submitted and waiting, first seen
// at seen; it returns the file's path and its document key.
func seedWaiting(t *testing.T, st *state.Store, inbox, name string, seen time.Time) (string, string) {
	t.Helper()
	p := filepath.Join(inbox, name)
	if err := os.WriteFile(p, []byte("%PDF-1.4 x %%EOF"), 0o644); err != nil {
		t.Fatal(err)
	}
	sha := name + "-sha"
	key := state.DocKey("prs", sha)
	if err := st.Update(func(tx *state.Tx) error {
		if err := tx.SeedFile(state.File{Path: p, Inbox: inbox, ParserID: "prs", SHA256: sha, Pages: 1, State: state.FileQueued, FirstSeen: seen}); err != nil {
			return err
		}
		return tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: sha, Pages: 1, State: state.DocSubmitted,
			Files: []string{p}, UploadName: name, DocumentID: "doc_" + name})
	}); err != nil {
		t.Fatal(err)
	}
	return p, key
}

func completedDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"document_id": "doc_" + name, "filename": name, "status": "completed", "page_count": 1, "extracted_data": map[string]any{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Where a folder's lookups are answered from one listing, every guarantee
// of the lookups it replaces holds: an error file left before the file was
// seen is removed when its result is written, one ppsync wrote after the
// listing too, and a result on disk for the same content is recognised
// rather than paid for again.
func TestListedFolderKeepsEveryGuarantee(t *testing.T) {
	ctx := context.Background()
	t.Run("an error file left before the file was seen is removed", func(t *testing.T) {
		fin, st, inbox := listedEnv(t)
		stale := results.ErrorPath(filepath.Join(inbox, "a.pdf"))
		if err := os.WriteFile(stale, []byte(`{"error":{}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		p, key := seedWaiting(t, st, inbox, "a.pdf", time.Now())
		if err := fin.Done(ctx, key, doc(t, completedDoc(t, "a.pdf"))); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(results.ResultPath(p)); err != nil {
			t.Fatalf("no result: %v", err)
		}
		if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a stale error file stays beside a fresh result (%v)", err)
		}
	})
	t.Run("an error file written after the listing is removed", func(t *testing.T) {
		fin, st, inbox := listedEnv(t)
		seen := time.Now()
		// A lookup for another file lists the folder now.
		if done, err := fin.AlreadyDone(state.File{Path: filepath.Join(inbox, "other.pdf"), Inbox: inbox, SHA256: "o", FirstSeen: seen}); err != nil || done {
			t.Fatalf("AlreadyDone of a file without a result = %v, %v", done, err)
		}
		x := filepath.Join(inbox, "x.pdf")
		if err := fin.Refused(ctx, state.File{Path: x, Inbox: inbox, SHA256: "x0"}, "NOT_A_PDF", "not a PDF"); err != nil {
			t.Fatal(err)
		}
		// The file is seen again as new (its record lost): the record no
		// longer names the error file, the listing predates it.
		if err := st.Update(func(tx *state.Tx) error { return tx.SeedDeleteFile(x) }); err != nil {
			t.Fatal(err)
		}
		_, key := seedWaiting(t, st, inbox, "x.pdf", seen)
		if err := fin.Done(ctx, key, doc(t, completedDoc(t, "x.pdf"))); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(results.ResultPath(x)); err != nil {
			t.Fatalf("no result: %v", err)
		}
		if _, err := os.Stat(results.ErrorPath(x)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the error file ppsync wrote after the listing stays beside a fresh result (%v)", err)
		}
	})
	t.Run("an error file left after the listing, before the file was seen, is removed", func(t *testing.T) {
		fin, st, inbox := listedEnv(t)
		if done, err := fin.AlreadyDone(state.File{Path: filepath.Join(inbox, "other.pdf"), Inbox: inbox, SHA256: "o", FirstSeen: time.Now()}); err != nil || done {
			t.Fatalf("AlreadyDone of a file without a result = %v, %v", done, err)
		}
		stale := results.ErrorPath(filepath.Join(inbox, "b.pdf"))
		if err := os.WriteFile(stale, []byte(`{"error":{}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // the file is seen strictly after the listing
		p, key := seedWaiting(t, st, inbox, "b.pdf", time.Now())
		if err := fin.Done(ctx, key, doc(t, completedDoc(t, "b.pdf"))); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(results.ResultPath(p)); err != nil {
			t.Fatalf("no result: %v", err)
		}
		if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("an error file older than the file but newer than the listing stays beside a fresh result (%v)", err)
		}
	})
	t.Run("a result on disk for the same content is recognised", func(t *testing.T) {
		fin, _, inbox := listedEnv(t)
		good := filepath.Join(inbox, "good.pdf")
		if _, err := results.WriteResult(good, json.RawMessage(`{"n":1}`), results.Source{Path: good, SHA256: "abc"}, ""); err != nil {
			t.Fatal(err)
		}
		done, err := fin.AlreadyDone(state.File{Path: good, Inbox: inbox, SHA256: "abc", FirstSeen: time.Now()})
		if err != nil || !done {
			t.Errorf("AlreadyDone with the result on disk = %v, %v; want true (not paid again)", done, err)
		}
	})
}
