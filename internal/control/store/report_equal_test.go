package store_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

// fullScan is the report as it was computed from every file record before
// the tally; store.Report must give the same answer.
func fullScan(t *testing.T, st *state.Store, cfg *config.Config, waitingCredits bool) report.Report {
	t.Helper()
	// The report before any file is counted: cfg's inboxes, every count
	// zero (what store.Report gives when there is no state file yet).
	r, err := store.Report(nil, cfg, waitingCredits)
	if err != nil {
		t.Fatal(err)
	}
	r.State.Path = st.Path()
	r.State.Schema, _ = st.Schema()
	idx := map[string]int{}
	for i, in := range r.Inboxes {
		idx[in.Path] = i
	}
	err = st.View(func(tx *state.Tx) error {
		docState := map[string]state.DocState{}
		return tx.Files(func(f state.File) error {
			i, ok := idx[f.Inbox]
			if !ok {
				return nil
			}
			in := &r.Inboxes[i]
			var s string
			switch f.State {
			case state.FileDone:
				s = report.Done
			case state.FileFailed:
				s = report.Failed
			case state.FileInvalid:
				s = report.Invalid
			case state.FileGone:
				s = report.Gone
			default:
				s = report.InFlight
				key := state.DocKey(f.ParserID, f.SHA256)
				ds, seen := docState[key]
				if !seen && f.SHA256 != "" {
					d, ok, err := tx.Doc(key)
					if err != nil {
						return err
					}
					if ok {
						ds = d.State
					}
					docState[key] = ds
					if ds == state.DocQueued {
						r.QueueDepth++
					}
				}
				if ds == state.DocQueued {
					s = report.Queued
					if waitingCredits {
						s = report.WaitingCredits
					}
				}
			}
			in.Files[s]++
			if s == report.Failed || s == report.Invalid || s == report.Gone {
				in.LastErrors = append(in.LastErrors, report.FileError{Path: f.Path, State: s, Code: f.Code, Reason: f.Reason, At: f.Updated})
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Inboxes {
		errs := r.Inboxes[i].LastErrors
		sort.Slice(errs, func(a, b int) bool { return errs[a].At.After(errs[b].At) })
		if len(errs) > 10 {
			r.Inboxes[i].LastErrors = errs[:10]
		}
	}
	return r
}

// mixedState writes files in every state to inboxes /a and /b, and to
// /elsewhere, which the config does not name. Every record has its own
// Updated time: the order of files updated at the same instant was never
// defined.
func mixedState(t *testing.T, st *state.Store) {
	t.Helper()
	t0 := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	at := func() time.Time { n++; return t0.Add(time.Duration(n*7919%1000) * time.Second) }
	err := st.Update(func(tx *state.Tx) error {
		put := func(f state.File) error {
			f.Updated = at()
			return tx.SeedFile(f)
		}
		for _, inbox := range []string{"/a", "/b", "/elsewhere"} {
			for i := range 12 {
				for _, f := range []state.File{
					{State: state.FileDone},
					{State: state.FileDone, MovedTo: inbox + "/done/x.pdf"},
					{State: state.FileFailed, Code: "EXTRACTION_FAILED", Reason: "unreadable"},
					{State: state.FileInvalid, Code: "NOT_A_PDF", Reason: "no %PDF- header"},
					{State: state.FileGone, Reason: "deleted from the inbox"},
				} {
					f.Path, f.Inbox = fmt.Sprintf("%s/%s-%02d.pdf", inbox, f.State, i), inbox
					if f.MovedTo != "" {
						f.Path = fmt.Sprintf("%s/moved-%02d.pdf", inbox, i)
					}
					if err := put(f); err != nil {
						return err
					}
				}
			}
			// In flight: a queued document (twice, through a duplicate), a
			// submitted one, a batched one, a document not written yet and
			// a file not hashed yet.
			for _, f := range []state.File{
				{Path: inbox + "/q1.pdf", ParserID: "p", SHA256: "queued", State: state.FileQueued},
				{Path: inbox + "/q2.pdf", ParserID: "p", SHA256: "queued", State: state.FileDuplicate},
				{Path: inbox + "/s.pdf", ParserID: "p", SHA256: "submitted", State: state.FileQueued},
				{Path: inbox + "/t.pdf", ParserID: "p", SHA256: "batched", State: state.FileQueued, Reason: "waiting for the API", Code: "RATE_LIMITED"},
				{Path: inbox + "/u.pdf", ParserID: "p", SHA256: "nodoc" + inbox, State: state.FileQueued},
				{Path: inbox + "/v.pdf", ParserID: "p", State: state.FileQueued},
				{Path: inbox + "/w.pdf", ParserID: "p", SHA256: "queued-" + inbox, State: state.FileQueued},
			} {
				f.Inbox = inbox
				if err := put(f); err != nil {
					return err
				}
			}
		}
		for key, ds := range map[string]state.DocState{"queued": state.DocQueued, "submitted": state.DocSubmitted, "batched": state.DocBatched,
			"queued-/a": state.DocQueued, "queued-/b": state.DocQueued, "queued-/elsewhere": state.DocQueued} {
			if err := tx.SeedDoc(state.Doc{Key: state.DocKey("p", key), ParserID: "p", SHA256: key, State: ds}); err != nil {
				return err
			}
		}
		// Later lives: a finished file starts again, a failed one is
		// retried and done, a file moves to another inbox, one is forgotten.
		for _, f := range []state.File{
			{Path: "/a/done-00.pdf", Inbox: "/a", ParserID: "p", SHA256: "queued", State: state.FileQueued},
			{Path: "/a/failed-01.pdf", Inbox: "/a", State: state.FileDone},
			{Path: "/b/invalid-02.pdf", Inbox: "/a", State: state.FileInvalid, Code: "NOT_A_PDF", Reason: "moved inbox"},
		} {
			if err := put(f); err != nil {
				return err
			}
		}
		return tx.SeedDeleteFile("/b/failed-03.pdf")
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sameReport(t *testing.T, got, want report.Report) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.MarshalIndent(want, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("report differs from the full scan:\ngot  %s\nwant %s", g, w)
	}
}

func TestFromStateMatchesAFullScan(t *testing.T) {
	cfg := &config.Config{State: config.State{Path: filepath.Join(t.TempDir(), "s.db")},
		Inboxes: []config.Inbox{{Path: "/a", ParserID: "p", Watch: "auto"}, {Path: "/b", ParserID: "p", Watch: "poll"}, {Path: "/empty", ParserID: "p"}}}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mixedState(t, st)
	for _, waiting := range []bool{false, true} {
		got, err := store.Report(st, cfg, waiting)
		if err != nil {
			t.Fatal(err)
		}
		want := fullScan(t, st, cfg, waiting)
		// The reference must see what the test built, or the comparison proves little.
		if a := want.Inboxes[0]; a.Files[report.Done] != 24 || a.Files[report.InFlight] != 4 || len(a.LastErrors) != 10 || want.QueueDepth != 3 {
			t.Fatalf("the full scan sees %+v, queue depth %d", a.Files, want.QueueDepth)
		}
		sameReport(t, got, want)
	}
	st.Close()

	// `ppsync status` reads a state file of schema 2 read-only, before the
	// daemon has upgraded it: the same answer, from the records.
	db, err := bolt.Open(cfg.State.Path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"tally", "errs"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("2"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := state.OpenReadOnly(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := store.Report(ro, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Schema != 2 {
		t.Fatalf("schema %d, want the file's 2", got.State.Schema)
	}
	sameReport(t, got, fullScan(t, ro, cfg, false))
}
