package rebuild_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/rebuild"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
)

// finished writes a PDF at rel with a result file that matches it.
func finished(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := samples.Generate(uint64(len(rel)), 1, 1).WriteFile(p); err != nil {
		t.Fatal(err)
	}
	sum, size, err := pdfcheck.HashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := results.WriteResult(p, json.RawMessage(`{"id":"doc"}`), results.Source{Path: p, SHA256: sum, Size: size}, ""); err != nil {
		t.Fatal(err)
	}
	return p
}

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "inbox")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "ppsync.toml"), []byte(`
[api]
api_key = "k"
[state]
path = "state/ppsync.db"
[[inbox]]
path = "inbox"
parser_id = "prs"
recursive = true
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func files(t *testing.T, path string) map[string]state.FileState {
	t.Helper()
	st, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[string]state.FileState{}
	if err := st.View(func(tx *state.Tx) error {
		return tx.Files(func(f state.File) error { got[f.Path] = f.State; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRebuildAgreesWithTheWatcher(t *testing.T) {
	cfg := testConfig(t)
	root := cfg.Inboxes[0].Path
	want := []string{finished(t, root, "a.pdf"), finished(t, root, "sub/b.pdf")}
	for _, rel := range []string{".hidden/a.pdf", "#recycle/c.pdf", "@eaDir/d.pdf", "sub/.cache/e.pdf"} {
		finished(t, root, rel)
	}
	res, err := rebuild.Run(context.Background(), cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Aside != "" {
		t.Errorf("no state existed, yet %q was moved aside", res.Aside)
	}
	got := files(t, cfg.State.Path)
	var paths []string
	for p, s := range got {
		if s != state.FileDone {
			t.Errorf("%s recorded as %s", p, s)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	slices.Sort(want)
	if !slices.Equal(paths, want) || res.Done != len(want) {
		t.Fatalf("recorded %q (done %d), want exactly %q", paths, res.Done, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(cfg.State.Path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".broken-") {
			t.Errorf("a fresh rebuild left %s", e.Name())
		}
	}
}

func TestRebuildMovesAnExistingStateAsideAndRefusesWhileRunning(t *testing.T) {
	cfg := testConfig(t)
	finished(t, cfg.Inboxes[0].Path, "a.pdf")
	if err := os.MkdirAll(filepath.Dir(cfg.State.Path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.State.Path, []byte("not a bbolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	res, err := rebuild.Run(context.Background(), cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Aside != cfg.State.Path+".broken-20260102-030405" {
		t.Fatalf("aside = %q", res.Aside)
	}
	if b, err := os.ReadFile(res.Aside); err != nil || string(b) != "not a bbolt file" {
		t.Fatalf("the damaged file was not kept: %v", err)
	}
	if res.Done != 1 {
		t.Fatalf("done = %d", res.Done)
	}

	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := rebuild.Run(context.Background(), cfg, now.Add(time.Second)); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("rebuild while the state is held: %v", err)
	}
	if _, err := os.Stat(cfg.State.Path); err != nil {
		t.Fatalf("the held state was moved: %v", err)
	}
}

// With results_dir, the outputs live in a tree that mirrors the inbox; a
// rebuild finds them there and records their files done or failed, with the
// output's path.
func TestRebuildFromResultsDir(t *testing.T) {
	cfg := testConfig(t)
	in := &cfg.Inboxes[0]
	in.Recursive = false
	in.ResultsDir = filepath.Join(filepath.Dir(in.Path), "results")
	done := finished(t, in.Path, "a.pdf")
	// Move a.pdf's result into results_dir, as the daemon writes it there.
	out := filepath.Join(in.ResultsDir, "a.pdf.json")
	if err := os.MkdirAll(in.ResultsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(results.ResultPath(done), out); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(in.Path, "b.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, size, _ := pdfcheck.HashFile(bad)
	errOut := filepath.Join(in.ResultsDir, "b.png.error.json")
	if err := results.WriteErrorAt(errOut, "DAMAGED_IMAGE", "damaged", results.Source{Path: bad, SHA256: sum, Size: size}); err != nil {
		t.Fatal(err)
	}
	// A result beside the file is not where this inbox's outputs go: it is
	// not taken for one.
	finished(t, in.Path, "c.pdf")

	res, err := rebuild.Run(context.Background(), cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := files(t, cfg.State.Path)
	want := map[string]state.FileState{done: state.FileDone, bad: state.FileFailed}
	if res.Done != 1 || res.Failed != 1 || len(got) != len(want) {
		t.Fatalf("done %d failed %d, recorded %v; want %v", res.Done, res.Failed, got, want)
	}
	for p, s := range want {
		if got[p] != s {
			t.Errorf("%s: %q, want %q", p, got[p], s)
		}
	}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_ = st.View(func(tx *state.Tx) error {
		if f, _, _ := tx.File(done); f.Result != out {
			t.Errorf("result recorded at %q, want %q", f.Result, out)
		}
		return nil
	})
}

// A rebuilt document keeps the API's ids from its result file, not the
// result itself (that stays in the file).
func TestRebuiltDocumentKeepsIDsNotTheResult(t *testing.T) {
	cfg := testConfig(t)
	p := filepath.Join(cfg.Inboxes[0].Path, "a.pdf")
	if err := samples.Generate(5, 1, 1).WriteFile(p); err != nil {
		t.Fatal(err)
	}
	sum, size, err := pdfcheck.HashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	doc := json.RawMessage(`{"document_id":"doc_7","extraction_id":"ext_3","status":"completed","extracted_data":{"n":1}}`)
	if _, err := results.WriteResult(p, doc, results.Source{Path: p, SHA256: sum, Size: size}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := rebuild.Run(context.Background(), cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var d state.Doc
	var ok bool
	if err := st.View(func(tx *state.Tx) error {
		d, ok, err = tx.Doc(state.DocKey("prs", sum))
		return err
	}); err != nil || !ok {
		t.Fatalf("no document rebuilt: %v", err)
	}
	if d.DocumentID != "doc_7" || d.ExtractionID != "ext_3" || d.Result != nil || d.State != state.DocDone {
		t.Errorf("rebuilt document %+v, want done with the ids and no stored result", d)
	}
}
