//go:build linux || darwin

package uploader

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// A queued file deleted from its inbox while the finish stage records its
// result: the intake looked at the record while it was queued, and the
// result was recorded before the intake's group was written. The file is
// then let go as a finished file, not refused as a move from done to gone
// (which was logged as a fault and left the record done for good).
func TestGoneWhileItsResultIsRecorded(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fin := &forgetting{fakeFinisher: fakeFinisher{failed: map[string]string{}}}
	u := New(Options{Store: st, Finisher: fin, Inboxes: []Inbox{{Path: dir, ParserID: "prs"}}})
	path := filepath.Join(dir, "first.pdf")
	rec := state.File{Path: path, Inbox: dir, ParserID: "prs", SHA256: "ab", State: state.FileQueued, FirstSeen: time.Now()}
	seed := func(f state.File) {
		t.Helper()
		if err := st.Update(func(tx *state.Tx) error { return tx.SeedFile(f) }); err != nil {
			t.Fatal(err)
		}
	}
	seed(rec)
	var g intakeGroup
	if err := u.gone(context.Background(), path, &g); err != nil {
		t.Fatal(err)
	}
	// The finish stage records the result before the group is written.
	rec.State, rec.Result = state.FileDone, path+".json"
	seed(rec)
	u.commitIntake(context.Background(), &g)

	fin.mu.Lock()
	forgot := fin.forgot
	fin.mu.Unlock()
	if len(forgot) != 0 {
		t.Errorf("the deletion could not be recorded and was sent back to the watcher: %v", forgot)
	}
	if err := st.View(func(tx *state.Tx) error {
		if f, ok, err := tx.File(path); err != nil || ok {
			t.Errorf("the finished file's record after it left the inbox: %+v (kept %v, %v), want it let go", f, ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
