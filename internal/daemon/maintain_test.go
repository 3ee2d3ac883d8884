package daemon_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
)

// TestPruneWhileRunningKeepsInFlightAndUnreachable seeds a state with old
// records, runs the daemon with a short retention and prune interval, and
// checks what the online prune removed and what it left alone.
func TestPruneWhileRunningKeepsInFlightAndUnreachable(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	cfg.State.Retention.Duration = time.Hour
	old := time.Now().Add(-400 * 24 * time.Hour)
	share := filepath.Join(e.root, "unmounted-share") // never created

	gone := filepath.Join(e.inbox, "deleted long ago.pdf")
	kept := filepath.Join(e.inbox, "kept with result.pdf")
	inFlight := filepath.Join(e.inbox, "in flight.pdf")
	onShare := filepath.Join(share, "on the share.pdf")
	keptPDF := pdf(t, 1, 1)
	keptSum := fmt.Sprintf("%x", sha256.Sum256(keptPDF))
	write(t, kept, keptPDF)
	write(t, results.ResultPath(kept), fmt.Appendf(nil, `{"document":{},"source":{"path":%q,"sha256":%q,"size":%d}}`,
		kept, keptSum, len(keptPDF)))
	write(t, inFlight, pdf(t, 2, 1))
	fi, err := os.Stat(inFlight)
	if err != nil {
		t.Fatal(err)
	}
	ki, err := os.Stat(kept)
	if err != nil {
		t.Fatal(err)
	}

	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx *state.Tx) error {
		recs := []state.File{
			{Path: gone, Inbox: e.inbox, ParserID: "prs_invoice", SHA256: "aa", State: state.FileDone, Result: results.ResultPath(gone), Updated: old},
			{Path: kept, Inbox: e.inbox, ParserID: "prs_invoice", SHA256: keptSum, Size: ki.Size(), ModTime: ki.ModTime().UnixNano(),
				State: state.FileDone, Result: results.ResultPath(kept), Updated: old},
			// Queued, unchanged on disk and without a document: nothing
			// moves it, so it stays in flight for the whole run.
			{Path: inFlight, Inbox: e.inbox, ParserID: "prs_invoice", SHA256: "cc", Size: fi.Size(), ModTime: fi.ModTime().UnixNano(),
				State: state.FileQueued, Updated: old},
			{Path: onShare, Inbox: share, ParserID: "prs_invoice", SHA256: "dd", State: state.FileDone, Updated: old},
		}
		for _, f := range recs {
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		return tx.SeedDoc(state.Doc{Key: state.DocKey("prs_invoice", "aa"), ParserID: "prs_invoice", SHA256: "aa",
			State: state.DocDone, Files: []string{gone}, Updated: old})
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := e.options(cfg, false)
	o.PruneEvery = 100 * time.Millisecond
	go func() {
		_, err := daemon.Run(ctx, o)
		done <- err
	}()
	e.waitFor("the first prune and two more passes", 20*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "pruned the state file") &&
			strings.Count(e.logs.String(), "pruned the state file") >= 3
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop")
	}
	// The first pass removes the deleted file, the old done file beside its
	// result, and the deleted file's document; nothing else.
	if !strings.Contains(e.logs.String(), `msg="pruned the state file" state=`+cfg.State.Path+` files=2 documents=1`) {
		t.Errorf("no prune of 2 files and 1 document logged:\n%s", tail(e.logs.String(), 3000))
	}
	// The pruned file with its result beside it is recognised by the sha256
	// in its .json, never submitted again.
	if s := e.emu.Stats(); s.DocumentsCreated != 0 {
		t.Errorf("documents created = %d, want 0", s.DocumentsCreated)
	}

	st, err = state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := map[string]bool{gone: false, inFlight: true, onShare: true}
	err = st.View(func(tx *state.Tx) error {
		for p, keep := range want {
			_, ok, err := tx.File(p)
			if err != nil {
				return err
			}
			if ok != keep {
				t.Errorf("%s: record present = %v, want %v", p, ok, keep)
			}
		}
		_, ok, err := tx.Doc(state.DocKey("prs_invoice", "aa"))
		if ok {
			t.Error("the old final document of the deleted file was kept")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
