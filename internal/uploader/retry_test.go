package uploader_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
)

func TestReprocessPlanAndMarks(t *testing.T) {
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files := []struct {
		path      string
		fileState state.FileState
		docState  state.DocState
		pages     int
	}{
		{"/in/done.pdf", state.FileDone, state.DocDone, 3},
		{"/in/failed.pdf", state.FileFailed, state.DocFailed, 2},
		{"/in/refused.pdf", state.FileInvalid, "", 0},
		{"/in/queued.pdf", state.FileQueued, state.DocQueued, 1},
	}
	err = st.Update(func(tx *state.Tx) error {
		for _, f := range files {
			sha := ""
			if f.docState != "" {
				sha = f.path + "-sha"
				if err := tx.SeedDoc(state.Doc{Key: state.DocKey("p", sha), ParserID: "p", SHA256: sha, Pages: f.pages, State: f.docState, Files: []string{f.path}}); err != nil {
					return err
				}
			}
			if err := tx.SeedFile(state.File{Path: f.path, Inbox: "/in", ParserID: "p", SHA256: sha, Pages: f.pages, State: f.fileState}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"/in/done.pdf", "/in/failed.pdf", "/in/refused.pdf", "/in/queued.pdf", "/in/unknown.pdf"}
	plan, err := uploader.PlanReprocess(st, all)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/in/done.pdf", "/in/failed.pdf", "/in/refused.pdf"}; !slices.Equal(plan.Files, want) || plan.Pages != 5 || plan.Unknown != 1 {
		t.Fatalf("plan = %+v, want files %v, 5 pages, 1 unknown", plan, want)
	}
	if plan.Skipped["/in/queued.pdf"] == "" || plan.Skipped["/in/unknown.pdf"] == "" || len(plan.Skipped) != 2 {
		t.Fatalf("skipped = %v", plan.Skipped)
	}

	// A retry leaves the finished file alone; a reprocess takes it.
	if got, err := uploader.MarkRetry(st, []string{"/in/done.pdf"}, false); err != nil || len(got) != 0 {
		t.Fatalf("retry of a done file: %v %v", got, err)
	}
	got, err := uploader.MarkReprocess(st, all)
	if err != nil || !slices.Equal(got, plan.Files) {
		t.Fatalf("reprocess marked %v (%v), want %v", got, err, plan.Files)
	}
	_ = st.View(func(tx *state.Tx) error {
		for _, p := range plan.Files {
			if _, ok, _ := tx.File(p); ok {
				t.Errorf("%s still has its record: it would not be inspected afresh", p)
			}
		}
		for _, p := range []string{"/in/done.pdf", "/in/failed.pdf"} {
			if d, _, _ := tx.Doc(state.DocKey("p", p+"-sha")); !d.Retry {
				t.Errorf("the document of %s is not flagged to be sent again", p)
			}
		}
		if d, _, _ := tx.Doc(state.DocKey("p", "/in/queued.pdf-sha")); d.Retry {
			t.Error("a queued document was flagged")
		}
		return nil
	})
}
