package reconcile_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/reconcile"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/statetest"
)

// Recover removes the temp files an interrupted run left in the inbox
// (not below it unless it is recursive) and anywhere in its results
// folder, and marks a queued file deleted meanwhile as gone; Run on an
// ended context does nothing.
func TestStartupCleansTempFilesAndMarksDeletedFiles(t *testing.T) {
	dir := t.TempDir()
	inbox, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	files := map[string]bool{ // path: still there after Recover
		filepath.Join(inbox, ".a.pdf.ppsync-123.tmp"):        false,
		filepath.Join(inbox, "sub", ".b.pdf.ppsync-123.tmp"): true, // the inbox is not recursive
		filepath.Join(inbox, "kept.pdf"):                     true,
		filepath.Join(out, "2026", ".c.json.ppsync-9.tmp"):   false,
	}
	for p := range files {
		write(t, p)
	}
	deleted := filepath.Join(inbox, "deleted.pdf")
	st := statetest.Open(t, state.File{Path: deleted, Inbox: inbox, State: state.FileQueued})
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox, ResultsDir: out}}, Logger: log})
	s := reconcile.NewStartup(reconcile.StartupOptions{Store: st, Finisher: fin, Log: log,
		Inboxes:   []reconcile.Inbox{{Path: inbox, ResultsDir: out}},
		Reachable: func(i int) bool { return i == 0 }})
	if err := s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	for p, kept := range files {
		if _, err := os.Stat(p); (err == nil) != kept {
			t.Errorf("%s: there %v, want %v", p, err == nil, kept)
		}
	}
	if err := st.View(func(tx *state.Tx) error {
		f, _, err := tx.File(deleted)
		if f.State != state.FileGone {
			t.Errorf("the deleted file is %s, want gone", f.State)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"removed temp files left by an interrupted run" inbox=` + inbox + " files=1",
		`results_dir=` + out + " files=1", "file deleted while ppsync was stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Errorf("Run on an ended context: %v", err)
	}
}
