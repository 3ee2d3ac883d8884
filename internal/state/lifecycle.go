package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// This file owns the life of file and document records: the table of the
// transitions each operation may make, and the operations on Tx that are
// the only way to write a record outside this package (the Seed methods
// are for tests and fixtures; internal/deptest forbids them elsewhere).
// Each operation reads the state the record has now, checks the step
// against the table and refuses it with an ErrTransition error, leaving
// the record as it was. docs/lifecycle.md draws the table.

// FileNone is a file with no record: before its first record is written,
// and after its record is removed.
const FileNone FileState = ""

// DocNone is a document with no record.
const DocNone DocState = ""

// ErrTransition means an operation would move a record along a step the
// life-cycle table does not allow; the record is left as it was.
var ErrTransition = errors.New("state transition not allowed")

// Op names an operation that moves a record.
type Op string

// The operations on file records.
const (
	OpQueueFile       Op = "QueueFile"       // a file (or a new life of it) waits for its document's result
	OpRefuseFile      Op = "RefuseFile"      // a file refused locally, never uploaded
	OpRecognizeResult Op = "RecognizeResult" // a result already on disk for this content stands
	OpFinishFile      Op = "FinishFile"      // a waiting file got its result or error file
	OpMarkGone        Op = "MarkGone"        // a waiting file was deleted before its result
	OpDecideReview    Op = "DecideReview"    // a held result was approved or rejected
	OpRestoreFile     Op = "RestoreFile"     // a record rebuilt from a result or error file on disk
	OpAmendFile       Op = "AmendFile"       // the same state, other fields (a reason, where it moved)
	OpForgetFile      Op = "ForgetFile"      // a finished file's record is removed
	OpHandBackFile    Op = "HandBackFile"    // an unsent file is given up to another ppsync
)

// The operations on document records.
const (
	OpQueueDoc     Op = "QueueDoc"     // new content (or a retried one) waits to be batched
	OpMarkBatched  Op = "MarkBatched"  // a document joins a batch intent
	OpRequeueDoc   Op = "RequeueDoc"   // a batched document goes back to the queue
	OpRecordAnswer Op = "RecordAnswer" // the API accepted, completed or failed a document
	OpFailDoc      Op = "FailDoc"      // a document fails without a result from the API
	OpRestoreDoc   Op = "RestoreDoc"   // a record rebuilt from a result file on disk
	OpAmendDoc     Op = "AmendDoc"     // the same state, other fields (files, keys, the stored result)
	OpHandBackDoc  Op = "HandBackDoc"  // a queued document left with no file is given up
)

// FileRule allows op to move a file record from any state of From to any
// state of To.
type FileRule struct {
	Op       Op
	From, To []FileState
}

// DocRule allows op to move a document record from any state of From to
// any state of To.
type DocRule struct {
	Op       Op
	From, To []DocState
}

// fileRules and docRules are the tables every step is checked against,
// built once: they never change.
var (
	fileRules = FileLifecycle()
	docRules  = DocLifecycle()
)

// FileLifecycle is the table of the steps a file record may take.
func FileLifecycle() []FileRule {
	var (
		every   = []FileState{FileNone, FileQueued, FileDuplicate, FileDone, FileFailed, FileInvalid, FileGone}
		waiting = []FileState{FileQueued, FileDuplicate}
		final   = []FileState{FileDone, FileFailed, FileInvalid, FileGone}
		outcome = []FileState{FileDone, FileFailed}
	)
	rules := []FileRule{
		// Intake starts a new life from whatever the path held before.
		{OpQueueFile, every, waiting},
		{OpRefuseFile, every, []FileState{FileInvalid}},
		{OpRecognizeResult, every, []FileState{FileDone}},
		{OpFinishFile, waiting, outcome},
		{OpMarkGone, waiting, []FileState{FileGone}},
		// A decision completes once, or again after a stop; the record
		// may have been lost (a rebuilt state) or removed meanwhile.
		{OpDecideReview, []FileState{FileNone, FileDone, FileFailed}, outcome},
		{OpRestoreFile, []FileState{FileNone}, outcome},
		{OpForgetFile, final, []FileState{FileNone}},
		{OpHandBackFile, waiting, []FileState{FileNone}},
	}
	for _, s := range every[1:] {
		rules = append(rules, FileRule{OpAmendFile, []FileState{s}, []FileState{s}})
	}
	return rules
}

// DocLifecycle is the table of the steps a document record may take.
func DocLifecycle() []DocRule {
	var (
		open  = []DocState{DocQueued, DocBatched, DocSubmitted}
		final = []DocState{DocDone, DocFailed}
	)
	rules := []DocRule{
		// New content, or a finished one asked to be sent again (retry).
		{OpQueueDoc, []DocState{DocNone, DocDone, DocFailed}, []DocState{DocQueued}},
		// A batched document whose intent is gone is batched again.
		{OpMarkBatched, []DocState{DocQueued, DocBatched}, []DocState{DocBatched}},
		{OpRequeueDoc, []DocState{DocBatched}, []DocState{DocQueued}},
		{OpRecordAnswer, []DocState{DocBatched}, []DocState{DocSubmitted}},
		{OpRecordAnswer, open, final},
		{OpFailDoc, open, []DocState{DocFailed}},
		// A rebuild attaches every file with the same content.
		{OpRestoreDoc, []DocState{DocNone, DocDone}, []DocState{DocDone}},
		{OpHandBackDoc, []DocState{DocQueued}, []DocState{DocNone}},
	}
	for _, s := range []DocState{DocQueued, DocBatched, DocSubmitted, DocDone, DocFailed} {
		rules = append(rules, DocRule{OpAmendDoc, []DocState{s}, []DocState{s}})
	}
	return rules
}

// name is how an error shows a state.
func name[S ~string](s S) string {
	if s == "" {
		return "(no record)"
	}
	return string(s)
}

// FileStep checks that op may move the file record at path from one state
// to another; the error wraps ErrTransition and names the record, the
// operation and both states.
func FileStep(op Op, path string, from, to FileState) error {
	for _, r := range fileRules {
		if r.Op == op && slices.Contains(r.From, from) && slices.Contains(r.To, to) {
			return nil
		}
	}
	return fmt.Errorf("%w: file %s: %s may not move it from %s to %s (the record is left as it was; this is a fault in ppsync, report it with the log)",
		ErrTransition, path, op, name(from), name(to))
}

// DocStep checks that op may move the document record key from one state
// to another; the error wraps ErrTransition and names the record, the
// operation and both states.
func DocStep(op Op, key string, from, to DocState) error {
	for _, r := range docRules {
		if r.Op == op && slices.Contains(r.From, from) && slices.Contains(r.To, to) {
			return nil
		}
	}
	return fmt.Errorf("%w: document %s: %s may not move it from %s to %s (the record is left as it was; this is a fault in ppsync, report it with the log)",
		ErrTransition, key, op, name(from), name(to))
}

// fileStateAt is the state of the file record at path (FileNone when there
// is none). It decodes the state alone and does not count as a record read.
func (t *Tx) fileStateAt(path string) (FileState, error) {
	raw := t.tx.Bucket(bucketFiles).Get([]byte(path))
	if raw == nil {
		return FileNone, nil
	}
	var v struct {
		State FileState `json:"state"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return FileNone, fmt.Errorf("state record %s/%s: %w", bucketFiles, path, err)
	}
	return v.State, nil
}

// docStateAt is the state of the document record key (DocNone when there
// is none): an open document's state is read from the open index.
func (t *Tx) docStateAt(key string) (DocState, error) {
	if st := t.tx.Bucket(bucketOpen).Get([]byte(prefixDoc + key)); st != nil {
		return DocState(st), nil
	}
	raw := t.tx.Bucket(bucketDocs).Get([]byte(key))
	if raw == nil {
		return DocNone, nil
	}
	var v struct {
		State DocState `json:"state"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return DocNone, fmt.Errorf("state record %s/%s: %w", bucketDocs, key, err)
	}
	return v.State, nil
}

// moveFile writes f after checking that op may move its record to f.State.
func (t *Tx) moveFile(op Op, f File) error {
	from, err := t.fileStateAt(f.Path)
	if err != nil {
		return err
	}
	if err := FileStep(op, f.Path, from, f.State); err != nil {
		return err
	}
	return t.putFile(f)
}

// removeFile removes the record at path after checking that op may.
func (t *Tx) removeFile(op Op, path string) error {
	from, err := t.fileStateAt(path)
	if err != nil {
		return err
	}
	if err := FileStep(op, path, from, FileNone); err != nil {
		return err
	}
	return t.deleteFile(path)
}

// moveDoc writes d after checking that op may move its record to d.State.
func (t *Tx) moveDoc(op Op, d Doc) error {
	from, err := t.docStateAt(d.Key)
	if err != nil {
		return err
	}
	if err := DocStep(op, d.Key, from, d.State); err != nil {
		return err
	}
	return t.putDoc(d)
}

// QueueFile records f (a new file, or a new life of a known one) waiting
// for its document's result: f.State is FileQueued, or FileDuplicate when
// another file has the same content.
func (t *Tx) QueueFile(f File) error { return t.moveFile(OpQueueFile, f) }

// RefuseFile records f refused before upload: it becomes FileInvalid.
func (t *Tx) RefuseFile(f File) error {
	f.State = FileInvalid
	return t.moveFile(OpRefuseFile, f)
}

// RecognizeResult records f done by a result already on disk for exactly
// its content (nothing is sent): it becomes FileDone.
func (t *Tx) RecognizeResult(f File) error {
	f.State = FileDone
	return t.moveFile(OpRecognizeResult, f)
}

// FinishFile records a waiting file's outcome: f.State is FileDone (its
// result file written, or held for review) or FileFailed (its error file).
func (t *Tx) FinishFile(f File) error { return t.moveFile(OpFinishFile, f) }

// MarkGone records a waiting file deleted before its result was written:
// it becomes FileGone.
func (t *Tx) MarkGone(f File) error {
	f.State = FileGone
	return t.moveFile(OpMarkGone, f)
}

// DecideReview records the decision on a held result: f.State is FileDone
// (approved) or FileFailed (rejected).
func (t *Tx) DecideReview(f File) error { return t.moveFile(OpDecideReview, f) }

// RestoreFile records, in a state that has no record of it, a file whose
// result (FileDone) or error file (FileFailed) is on disk.
func (t *Tx) RestoreFile(f File) error { return t.moveFile(OpRestoreFile, f) }

// AmendFile rewrites a file record in the state it has (a reason, a code,
// where the file was moved): f.State must be the stored state.
func (t *Tx) AmendFile(f File) error { return t.moveFile(OpAmendFile, f) }

// ForgetFile removes the record of a finished file (done, failed, invalid
// or gone): the file left the inbox, is sent again, or is pruned.
func (t *Tx) ForgetFile(path string) error { return t.removeFile(OpForgetFile, path) }

// QueueDoc records d, new content or a finished document sent again, as
// waiting to be batched: it becomes DocQueued.
func (t *Tx) QueueDoc(d Doc) error {
	d.State = DocQueued
	return t.moveDoc(OpQueueDoc, d)
}

// MarkBatched records d in a batch intent: it becomes DocBatched.
func (t *Tx) MarkBatched(d Doc) error {
	d.State = DocBatched
	return t.moveDoc(OpMarkBatched, d)
}

// RequeueDoc puts a batched document back in the queue (its batch was
// refused without charge, or the answer did not name it): it becomes
// DocQueued.
func (t *Tx) RequeueDoc(d Doc) error {
	d.State = DocQueued
	return t.moveDoc(OpRequeueDoc, d)
}

// RecordAnswer records what the API said of d: DocSubmitted (accepted),
// DocDone (completed) or DocFailed (failed).
func (t *Tx) RecordAnswer(d Doc) error { return t.moveDoc(OpRecordAnswer, d) }

// FailDoc records an open document failed without a result (its batch was
// refused, its job forgotten, or every file of it went before it was
// sent): it becomes DocFailed.
func (t *Tx) FailDoc(d Doc) error {
	d.State = DocFailed
	return t.moveDoc(OpFailDoc, d)
}

// RestoreDoc records a document whose result is on disk (a rebuild): it
// becomes DocDone.
func (t *Tx) RestoreDoc(d Doc) error {
	d.State = DocDone
	return t.moveDoc(OpRestoreDoc, d)
}

// AmendDoc rewrites a document record in the state it has (its files, its
// batch or key generation, a retry asked for, its stored result): d.State
// must be the stored state.
func (t *Tx) AmendDoc(d Doc) error { return t.moveDoc(OpAmendDoc, d) }

// SeedFile writes a file record as given, without the life-cycle table:
// for tests and fixtures only (internal/deptest refuses it in other code).
func (t *Tx) SeedFile(f File) error { return t.putFile(f) }

// SeedDoc writes a document record as given, without the life-cycle
// table: for tests and fixtures only (internal/deptest refuses it in other
// code).
func (t *Tx) SeedDoc(d Doc) error { return t.putDoc(d) }

// SeedDeleteFile removes a file record whatever its state: for tests and
// fixtures only (internal/deptest refuses it in other code).
func (t *Tx) SeedDeleteFile(path string) error { return t.deleteFile(path) }
