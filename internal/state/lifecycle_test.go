package state_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ppsync/ppsync/internal/state"
)

// The legal steps, written out one by one and apart from the table in
// lifecycle.go: the tests hold the table to this list, so a step added to
// (or dropped from) the table without changing it here fails them.
var legalFileSteps = []string{
	"QueueFile: (no record) -> queued", "QueueFile: (no record) -> duplicate",
	"QueueFile: queued -> queued", "QueueFile: queued -> duplicate",
	"QueueFile: duplicate -> queued", "QueueFile: duplicate -> duplicate",
	"QueueFile: done -> queued", "QueueFile: done -> duplicate",
	"QueueFile: failed -> queued", "QueueFile: failed -> duplicate",
	"QueueFile: invalid -> queued", "QueueFile: invalid -> duplicate",
	"QueueFile: gone -> queued", "QueueFile: gone -> duplicate",

	"RefuseFile: (no record) -> invalid", "RefuseFile: queued -> invalid", "RefuseFile: duplicate -> invalid",
	"RefuseFile: done -> invalid", "RefuseFile: failed -> invalid", "RefuseFile: invalid -> invalid", "RefuseFile: gone -> invalid",

	"RecognizeResult: (no record) -> done", "RecognizeResult: queued -> done", "RecognizeResult: duplicate -> done",
	"RecognizeResult: done -> done", "RecognizeResult: failed -> done", "RecognizeResult: invalid -> done", "RecognizeResult: gone -> done",

	"FinishFile: queued -> done", "FinishFile: queued -> failed",
	"FinishFile: duplicate -> done", "FinishFile: duplicate -> failed",

	"MarkGone: queued -> gone", "MarkGone: duplicate -> gone",

	"DecideReview: (no record) -> done", "DecideReview: (no record) -> failed",
	"DecideReview: done -> done", "DecideReview: done -> failed",
	"DecideReview: failed -> done", "DecideReview: failed -> failed",

	"RestoreFile: (no record) -> done", "RestoreFile: (no record) -> failed",

	"AmendFile: queued -> queued", "AmendFile: duplicate -> duplicate", "AmendFile: done -> done",
	"AmendFile: failed -> failed", "AmendFile: invalid -> invalid", "AmendFile: gone -> gone",

	"ForgetFile: done -> (no record)", "ForgetFile: failed -> (no record)",
	"ForgetFile: invalid -> (no record)", "ForgetFile: gone -> (no record)",

	"HandBackFile: queued -> (no record)", "HandBackFile: duplicate -> (no record)",
}

var legalDocSteps = []string{
	"QueueDoc: (no record) -> queued", "QueueDoc: done -> queued", "QueueDoc: failed -> queued",

	"MarkBatched: queued -> batched", "MarkBatched: batched -> batched",

	"RequeueDoc: batched -> queued",

	"RecordAnswer: batched -> submitted",
	"RecordAnswer: queued -> done", "RecordAnswer: queued -> failed",
	"RecordAnswer: batched -> done", "RecordAnswer: batched -> failed",
	"RecordAnswer: submitted -> done", "RecordAnswer: submitted -> failed",

	"FailDoc: queued -> failed", "FailDoc: batched -> failed", "FailDoc: submitted -> failed",

	"RestoreDoc: (no record) -> done", "RestoreDoc: done -> done",

	"AmendDoc: queued -> queued", "AmendDoc: batched -> batched", "AmendDoc: submitted -> submitted",
	"AmendDoc: done -> done", "AmendDoc: failed -> failed",

	"HandBackDoc: queued -> (no record)",
}

var (
	fileOps    = []state.Op{"QueueFile", "RefuseFile", "RecognizeResult", "FinishFile", "MarkGone", "DecideReview", "RestoreFile", "AmendFile", "ForgetFile", "HandBackFile"}
	docOps     = []state.Op{"QueueDoc", "MarkBatched", "RequeueDoc", "RecordAnswer", "FailDoc", "RestoreDoc", "AmendDoc", "HandBackDoc"}
	fileStates = []state.FileState{state.FileNone, state.FileQueued, state.FileDuplicate, state.FileDone, state.FileFailed, state.FileInvalid, state.FileGone}
	docStates  = []state.DocState{state.DocNone, state.DocQueued, state.DocBatched, state.DocSubmitted, state.DocDone, state.DocFailed}
)

func shown[S ~string](s S) string {
	if s == "" {
		return "(no record)"
	}
	return string(s)
}

// checkSteps tries every operation on every pair of states: a listed step
// must pass, any other must fail with an error naming the record, the
// operation and both states.
func checkSteps[S ~string](t *testing.T, ops []state.Op, states []S, legal []string, record string, step func(state.Op, string, S, S) error) {
	t.Helper()
	seen := map[string]bool{}
	for _, op := range ops {
		for _, from := range states {
			for _, to := range states {
				edge := fmt.Sprintf("%s: %s -> %s", op, shown(from), shown(to))
				err := step(op, record, from, to)
				if slices.Contains(legal, edge) {
					seen[edge] = true
					if err != nil {
						t.Errorf("%s refused: %v", edge, err)
					}
					continue
				}
				if err == nil {
					t.Errorf("%s accepted, but it is not a legal step", edge)
					continue
				}
				if !errors.Is(err, state.ErrTransition) {
					t.Errorf("%s: error %v does not wrap ErrTransition", edge, err)
				}
				for _, part := range []string{record, string(op), "from " + shown(from), "to " + shown(to)} {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("%s: error %q does not name %q", edge, err, part)
					}
				}
			}
		}
	}
	for _, edge := range legal {
		if !seen[edge] {
			t.Errorf("legal step %q was never tried: its operation or a state is missing from the test's lists", edge)
		}
	}
}

func TestFileLifecycleTable(t *testing.T) {
	checkSteps(t, fileOps, fileStates, legalFileSteps, "/in/a.pdf", state.FileStep)
}

func TestDocLifecycleTable(t *testing.T) {
	checkSteps(t, docOps, docStates, legalDocSteps, "prs:abc", state.DocStep)
}

// TestLifecycleTableNamesOnlyKnownOps holds the table's operations to the
// test's lists, so an operation added to the table is tested too.
func TestLifecycleTableNamesOnlyKnownOps(t *testing.T) {
	for _, r := range state.FileLifecycle() {
		if !slices.Contains(fileOps, r.Op) {
			t.Errorf("file operation %s is in the table but not in the test", r.Op)
		}
	}
	for _, r := range state.DocLifecycle() {
		if !slices.Contains(docOps, r.Op) {
			t.Errorf("document operation %s is in the table but not in the test", r.Op)
		}
	}
}

func openLife(t *testing.T) (*state.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func fileAt(t *testing.T, s *state.Store, path string) (state.File, bool) {
	t.Helper()
	var f state.File
	var ok bool
	if err := s.View(func(tx *state.Tx) error {
		var err error
		f, ok, err = tx.File(path)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return f, ok
}

func docAt(t *testing.T, s *state.Store, key string) state.Doc {
	t.Helper()
	var d state.Doc
	if err := s.View(func(tx *state.Tx) error {
		var err error
		d, _, err = tx.Doc(key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestOpsCarryARecordThroughItsLife walks one file and its document from
// intake to removal through the typed operations, checking each state and
// that the state is consistent (indexes and tally) at the end.
func TestOpsCarryARecordThroughItsLife(t *testing.T) {
	s, _ := openLife(t)
	const p, key = "/in/a.pdf", "prs:abc"
	f := state.File{Path: p, Inbox: "/in", ParserID: "prs", SHA256: "abc", Pages: 1, State: state.FileQueued}
	d := state.Doc{Key: key, ParserID: "prs", SHA256: "abc", Pages: 1, Files: []string{p}}
	steps := []struct {
		name    string
		fn      func(tx *state.Tx) error
		file    state.FileState
		doc     state.DocState
		present bool
	}{
		{"queue", func(tx *state.Tx) error { return errors.Join(tx.QueueDoc(d), tx.QueueFile(f)) }, state.FileQueued, state.DocQueued, true},
		{"batch", func(tx *state.Tx) error { d.Batch = "b1"; return tx.MarkBatched(d) }, state.FileQueued, state.DocBatched, true},
		{"submitted", func(tx *state.Tx) error {
			d.State, d.ExtractionID = state.DocSubmitted, "ext"
			return tx.RecordAnswer(d)
		}, state.FileQueued, state.DocSubmitted, true},
		{"credit note", func(tx *state.Tx) error { f.Reason = "noted"; return tx.AmendFile(f) }, state.FileQueued, state.DocSubmitted, true},
		{"completed", func(tx *state.Tx) error { d.State = state.DocDone; return tx.RecordAnswer(d) }, state.FileQueued, state.DocDone, true},
		{"result written", func(tx *state.Tx) error { f.State = state.FileDone; return tx.FinishFile(f) }, state.FileDone, state.DocDone, true},
		{"moved", func(tx *state.Tx) error { f.MovedTo = "/out/a.pdf"; return tx.AmendFile(f) }, state.FileDone, state.DocDone, true},
		{"forgotten", func(tx *state.Tx) error { return tx.ForgetFile(p) }, state.FileNone, state.DocDone, false},
	}
	for _, st := range steps {
		if err := s.Update(st.fn); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, ok := fileAt(t, s, p)
		if ok != st.present || got.State != st.file {
			t.Fatalf("%s: file %q (present %v), want %q (present %v)", st.name, got.State, ok, st.file, st.present)
		}
		if got := docAt(t, s, key).State; got != st.doc {
			t.Fatalf("%s: document %q, want %q", st.name, got, st.doc)
		}
	}
	if err := s.Check(); err != nil {
		t.Fatalf("state inconsistent after a life through the operations: %v", err)
	}
}

// TestOpsRefuseAnIllegalStepAndLeaveTheRecord: an operation whose
// precondition does not hold returns an error (no panic) naming the
// record and both states, and the transaction writes nothing.
func TestOpsRefuseAnIllegalStepAndLeaveTheRecord(t *testing.T) {
	const p, key = "/in/a.pdf", "prs:abc"
	queued := state.File{Path: p, Inbox: "/in", ParserID: "prs", SHA256: "abc", State: state.FileQueued}
	cases := []struct {
		name       string
		seed       func(tx *state.Tx) error
		op         func(tx *state.Tx) error
		record     string
		from, to   string
		wantFile   state.FileState
		wantDoc    state.DocState
		fileExists bool
	}{
		{"finish a file with no record", nil,
			func(tx *state.Tx) error { return tx.FinishFile(state.File{Path: p, State: state.FileDone}) },
			p, "(no record)", "done", state.FileNone, state.DocNone, false},
		{"forget a waiting file", func(tx *state.Tx) error { return tx.SeedFile(queued) },
			func(tx *state.Tx) error { return tx.ForgetFile(p) },
			p, "queued", "(no record)", state.FileQueued, state.DocNone, true},
		{"amend a file into another state", func(tx *state.Tx) error { return tx.SeedFile(queued) },
			func(tx *state.Tx) error { f := queued; f.State = state.FileDone; return tx.AmendFile(f) },
			p, "queued", "done", state.FileQueued, state.DocNone, true},
		{"mark a finished file gone", func(tx *state.Tx) error { f := queued; f.State = state.FileDone; return tx.SeedFile(f) },
			func(tx *state.Tx) error { return tx.MarkGone(queued) },
			p, "done", "gone", state.FileDone, state.DocNone, true},
		{"restore over a record", func(tx *state.Tx) error { return tx.SeedFile(queued) },
			func(tx *state.Tx) error { f := queued; f.State = state.FileDone; return tx.RestoreFile(f) },
			p, "queued", "done", state.FileQueued, state.DocNone, true},
		{"batch a submitted document", func(tx *state.Tx) error {
			return tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: "abc", State: state.DocSubmitted})
		},
			func(tx *state.Tx) error { return tx.MarkBatched(state.Doc{Key: key, ParserID: "prs", SHA256: "abc"}) },
			key, "submitted", "batched", state.FileNone, state.DocSubmitted, false},
		{"queue a batched document again as new", func(tx *state.Tx) error {
			return tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: "abc", State: state.DocBatched})
		},
			func(tx *state.Tx) error { return tx.QueueDoc(state.Doc{Key: key, ParserID: "prs", SHA256: "abc"}) },
			key, "batched", "queued", state.FileNone, state.DocBatched, false},
		{"answer a finished document", func(tx *state.Tx) error {
			return tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: "abc", State: state.DocDone})
		},
			func(tx *state.Tx) error {
				return tx.RecordAnswer(state.Doc{Key: key, ParserID: "prs", SHA256: "abc", State: state.DocFailed})
			},
			key, "done", "failed", state.FileNone, state.DocDone, false},
		{"fail a document with no record", nil,
			func(tx *state.Tx) error { return tx.FailDoc(state.Doc{Key: key}) },
			key, "(no record)", "failed", state.FileNone, state.DocNone, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openLife(t)
			if c.seed != nil {
				if err := s.Update(c.seed); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Update(c.op)
			if !errors.Is(err, state.ErrTransition) {
				t.Fatalf("error %v, want one wrapping ErrTransition", err)
			}
			for _, part := range []string{c.record, "from " + c.from, "to " + c.to} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not name %q", err, part)
				}
			}
			f, ok := fileAt(t, s, p)
			if ok != c.fileExists || f.State != c.wantFile {
				t.Errorf("file %q (present %v) after a refused step, want %q (present %v)", f.State, ok, c.wantFile, c.fileExists)
			}
			if got := docAt(t, s, key).State; got != c.wantDoc {
				t.Errorf("document %q after a refused step, want %q", got, c.wantDoc)
			}
		})
	}
}

// TestSingleOutcomeOpsSetTheState: an operation with one outcome writes
// that state whatever the record passed in says.
func TestSingleOutcomeOpsSetTheState(t *testing.T) {
	s, _ := openLife(t)
	const p = "/in/a.pdf"
	f := state.File{Path: p, Inbox: "/in", ParserID: "prs", SHA256: "abc", State: state.FileQueued}
	if err := s.Update(func(tx *state.Tx) error { return tx.QueueFile(f) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *state.Tx) error { return tx.MarkGone(f) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := fileAt(t, s, p); got.State != state.FileGone {
		t.Fatalf("after MarkGone: %q, want gone", got.State)
	}
	if err := s.Update(func(tx *state.Tx) error { return tx.RefuseFile(f) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := fileAt(t, s, p); got.State != state.FileInvalid {
		t.Fatalf("after RefuseFile: %q, want invalid", got.State)
	}
}

// TestStateRecordsReadBackUnchanged: records as earlier versions wrote
// them (raw JSON with plain string states) read back into the typed
// states, and a record written now stores the same strings.
func TestStateRecordsReadBackUnchanged(t *testing.T) {
	s, path := openLife(t)
	s.Close()
	const (
		rawFile = `{"path":"/in/a.pdf","inbox":"/in","parser_id":"prs","size":3,"mtime":0,"sha256":"abc","state":"duplicate","first_seen":"0001-01-01T00:00:00Z","updated":"0001-01-01T00:00:00Z"}`
		rawDoc  = `{"key":"prs:abc","parser_id":"prs","sha256":"abc","size":3,"pages":1,"state":"submitted","updated":"0001-01-01T00:00:00Z"}`
	)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return errors.Join(tx.Bucket([]byte("files")).Put([]byte("/in/a.pdf"), []byte(rawFile)),
			tx.Bucket([]byte("docs")).Put([]byte("prs:abc"), []byte(rawDoc)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, ok := fileAt(t, s, "/in/a.pdf")
	if !ok || f.State != state.FileDuplicate {
		t.Fatalf("file read back in state %q (present %v), want duplicate", f.State, ok)
	}
	if d := docAt(t, s, "prs:abc"); d.State != state.DocSubmitted {
		t.Fatalf("document read back in state %q, want submitted", d.State)
	}
	// Written again (in the same state) and read raw: the same JSON.
	if err := s.Update(func(tx *state.Tx) error { return tx.SeedFile(f) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	_ = db.View(func(tx *bolt.Tx) error { got = string(tx.Bucket([]byte("files")).Get([]byte("/in/a.pdf"))); return nil })
	if got != rawFile {
		t.Fatalf("record written as\n%s\nwant it as before\n%s", got, rawFile)
	}
}
