package finish

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/review"
	"github.com/ppsync/ppsync/internal/safeopen"
	"github.com/ppsync/ppsync/internal/state"
)

// CodeRejectedInReview is the error code of a result a person rejected.
const CodeRejectedInReview = review.CodeRejected

// Decisions written in a result's "review" object.
const (
	DecisionApproved     = "approved"
	DecisionNotDuplicate = "not_duplicate"
	DecisionRejected     = "rejected"
)

// ErrNotHeld means no result with that id waits for review.
var ErrNotHeld = errors.New("no result with that id waits for review")

// HeldItem is a result waiting for review.
type HeldItem struct {
	ID     string `json:"id"`
	Inbox  string `json:"inbox"`
	File   string `json:"file"`
	Held   string `json:"held"` // the <file>.review.json
	SHA256 string `json:"sha256"`
	// Reasons are the rules that held it.
	Reasons []review.Reason `json:"reasons"`
	HeldAt  time.Time       `json:"held_at"`
	// Document is the API's answer (filled by HeldDocument only).
	Document json.RawMessage `json:"document,omitempty"`
}

// Decision is a person's answer to a held result.
type Decision struct {
	// By names who decided (the signed-in user, or the CLI's account).
	By string
	// Set corrects fields of extracted_data (field → value as typed).
	Set map[string]string
	// Note is kept with the decision (and is the message of a rejection).
	Note string
	// NotDuplicate approves a result held as a probable duplicate.
	NotDuplicate bool
}

// heldReview is the "review" object of a <file>.review.json.
type heldReview struct {
	Status  string          `json:"status"`
	Reasons []review.Reason `json:"reasons"`
	HeldAt  time.Time       `json:"held_at"`
}

// decidedReview is the "review" object of a result written by a decision.
type decidedReview struct {
	Decision string          `json:"decision"`
	By       string          `json:"by"`
	At       time.Time       `json:"at"`
	Note     string          `json:"note,omitempty"`
	Reasons  []review.Reason `json:"reasons"`
	HeldAt   time.Time       `json:"held_at"`
	// Original holds the values the API gave for the fields corrected.
	Original map[string]any `json:"original,omitempty"`
}

// reviews is the finish stage's review queue and duplicate index. The
// result files are the source of truth: both are rebuilt from them at
// start-up (RecoverReviews).
type reviews struct {
	mu    sync.Mutex
	items map[string]HeldItem
	ix    *review.Index
	// decide runs one decision at a time.
	decide sync.Mutex
	// beforeRemoveHeld runs after a decision's result is written and
	// recorded, before its held file is removed (tests: a crash there).
	beforeRemoveHeld func()
}

func (r *reviews) index() *review.Index {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ix == nil {
		r.ix = review.NewIndex()
	}
	return r.ix
}

func (r *reviews) put(it HeldItem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.items == nil {
		r.items = map[string]HeldItem{}
	}
	r.items[it.ID] = it
}

func (r *reviews) drop(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.items, id)
}

func (r *reviews) get(id string) (HeldItem, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it, ok := r.items[id]
	return it, ok
}

// HeldID is the id of the held result at path (stable across restarts).
func HeldID(path string) string {
	h := sha256.Sum256([]byte(filepath.Clean(path)))
	return hex.EncodeToString(h[:8])
}

// heldPath is where the held result of file (in inbox) goes.
func (f *Finisher) heldPath(inbox, file string) string {
	res, _ := f.outputs(inbox, file)
	return strings.TrimSuffix(res, results.ResultSuffix) + results.ReviewSuffix
}

// hold is the review hook of finishFile: a completed result that an inbox
// rule holds gets <file>.review.json instead of <file>.json, and is
// recorded done (its credits are spent; nothing is sent again) without
// being delivered: no sink, no move. handled reports that hold dealt with
// the file; finished that it is recorded.
func (f *Finisher) hold(ctx context.Context, d state.Doc, rec state.File, o outcome, last bool) (handled, finished bool) {
	in, ok := f.inbox(rec.Inbox, rec.Path)
	if !ok || !o.ok || !in.Review.Enabled() {
		return false, false
	}
	resPath, errPath := f.outputs(rec.Inbox, rec.Path)
	// A result of this very content that a person approved stays.
	if !f.names.mayExist(resPath, rec.FirstSeen) {
		// No result there (see listing.go): nothing approved to keep.
	} else if out, err := f.own.Read(resPath, rec.Path); err == nil && out.HasDocument() && out.Result.Source.SHA256 == rec.SHA256 && decided(out.Data) {
		rec.State, rec.Result, rec.Code, rec.Reason, rec.Updated = state.FileDone, resPath, "", "", time.Now()
		if err := f.st.Update(func(tx *state.Tx) error { return recordFile(tx, rec, d.Key, last) }); err != nil {
			f.log.Error("cannot record a file whose approved result is on disk; retrying", "file", rec.Path, "error", err)
			return true, false
		}
		f.log.Info("the result approved in review stays", "file", rec.Path, "result", resPath)
		return true, true
	}
	pd, err := review.Parse(o.doc)
	if err != nil {
		pd = review.Doc{Data: map[string]any{}}
	}
	dup := ""
	if in.Review.Duplicates {
		dup, _ = f.rv.index().Match(rec.Path, review.FactsOf(pd.Data))
	}
	reasons := review.Check(in.Review, pd, dup)
	if len(reasons) == 0 {
		return false, false
	}
	held := f.heldPath(rec.Inbox, rec.Path)
	now := time.Now().UTC().Truncate(time.Second)
	rv, _ := json.Marshal(heldReview{Status: "to review", Reasons: reasons, HeldAt: now})
	src := results.Source{Path: rec.Path, SHA256: rec.SHA256, Size: rec.Size}
	dupOf := ""
	if d.First != "" && d.First != rec.Path {
		dupOf = d.First
	}
	if err := inFolder(held, func() error { return results.WriteHeldAt(held, o.doc, src, dupOf, rv) }); err != nil {
		f.writeErrors.Add(1)
		f.log.Error("cannot write the held result; retrying (nothing is lost: the result is kept in the state until it is written)", "file", rec.Path, "error", err)
		return true, false
	}
	// An older result or error of other content is no longer this file's.
	f.names.noteWritten(held)
	f.removeStale(rec, resPath)
	f.removeStale(rec, errPath)
	rec.State, rec.Result, rec.Code, rec.Updated = state.FileDone, held, "", time.Now()
	rec.Reason = "held for review: " + reasonList(reasons)
	if err := f.st.Update(func(tx *state.Tx) error { return recordFile(tx, rec, d.Key, last) }); err != nil {
		f.log.Error("held result written but not recorded; it is written again", "file", rec.Path, "error", err)
		return true, false
	}
	f.rv.put(HeldItem{ID: HeldID(held), Inbox: rec.Inbox, File: rec.Path, Held: held, SHA256: rec.SHA256, Reasons: reasons, HeldAt: now})
	f.log.Warn("result held for review; it is delivered once approved ('ppsync review list', or the status page)", "file", rec.Path,
		"held", held, "reasons", reasonList(reasons))
	if in.ReviewInLedger && f.o.HeldSink != nil {
		f.o.HeldSink.Written(ctx, Written{Inbox: rec.Inbox, File: rec, Output: held, Document: o.doc})
	}
	return true, true
}

func reasonList(rs []review.Reason) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Message)
	}
	return strings.Join(s, "; ")
}

// decided reports whether result content carries a review decision.
func decided(data []byte) bool {
	var r struct {
		Review *decidedReview `json:"review"`
	}
	return json.Unmarshal(data, &r) == nil && r.Review != nil && r.Review.Decision != ""
}

// delivered is the review hook after a result or error file is written:
// a held result of the file is outdated, and a delivered result joins the
// duplicate index.
func (f *Finisher) delivered(rec state.File, doc json.RawMessage, ok bool) {
	in, found := f.inbox(rec.Inbox, rec.Path)
	if !found || !in.Review.Enabled() {
		return
	}
	held := f.heldPath(rec.Inbox, rec.Path)
	if _, err := os.Lstat(held); err == nil {
		results.RemoveStale(held)
		f.rv.drop(HeldID(held))
	}
	if !in.Review.Duplicates {
		return
	}
	if !ok {
		f.rv.index().Remove(rec.Path)
		return
	}
	if pd, err := review.Parse(doc); err == nil {
		f.rv.index().Add(rec.Path, review.FactsOf(pd.Data))
	}
}

// alreadyHeld recognises a held result on disk for exactly rec's content
// (the state was lost or rebuilt) and records the file done, so it is not
// paid for again and stays in the review queue.
func (f *Finisher) alreadyHeld(rec state.File) (bool, error) {
	in, ok := f.inbox(rec.Inbox, rec.Path)
	if !ok || !in.Review.Enabled() {
		return false, nil
	}
	held := f.heldPath(rec.Inbox, rec.Path)
	if !f.names.mayExist(held, rec.FirstSeen) {
		return false, nil // no held result there (see listing.go)
	}
	out, err := f.own.Read(held, rec.Path)
	if err != nil || out.Review == nil || out.Review.Source.SHA256 != rec.SHA256 {
		return false, nil
	}
	var hr heldReview
	_ = json.Unmarshal(out.Review.Review, &hr)
	rec.State, rec.Result, rec.Updated = state.FileDone, held, time.Now()
	rec.Reason = "held for review: " + reasonList(hr.Reasons)
	if err := f.st.Update(func(tx *state.Tx) error { return tx.RecognizeResult(rec) }); err != nil {
		return false, fmt.Errorf("record %s held for review: %w", rec.Path, err)
	}
	f.rv.put(HeldItem{ID: HeldID(held), Inbox: rec.Inbox, File: rec.Path, Held: held, SHA256: rec.SHA256, Reasons: hr.Reasons, HeldAt: hr.HeldAt})
	f.log.Info("a held result is already on disk for this content; not submitting again", "file", rec.Path, "held", held)
	return true, nil
}

// RecoverReviews rebuilds the review queue and the duplicate index from
// the files on disk (every inbox with review rules: its results folder and
// processed_dir), and completes a decision a crash interrupted: a held
// result whose decided result (or rejection) is already written is
// removed. Call it at start-up, before results are written.
func (f *Finisher) RecoverReviews(ctx context.Context) error {
	var errs []error
	for _, in := range f.o.Inboxes {
		if !in.Review.Enabled() {
			continue
		}
		for i, root := range results.RootsOf(cmp.Or(in.ResultsDir, in.Path), in.ProcessedDir) {
			if _, err := os.Stat(root); i > 0 && errors.Is(err, fs.ErrNotExist) {
				continue // nothing moved there yet
			}
			if err := f.scanReviews(ctx, in, root); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (f *Finisher) scanReviews(ctx context.Context, in Inbox, root string) error {
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := strings.ToLower(de.Name())
		if strings.HasPrefix(name, ".") {
			return nil // ppsync's lease and temp files, and what others hide
		}
		switch {
		case de.IsDir() || !strings.HasSuffix(name, results.ResultSuffix) || strings.HasSuffix(name, results.ErrorSuffix):
		case strings.HasSuffix(name, results.ReviewSuffix):
			f.recoverHeld(ctx, in, p)
		case in.Review.Duplicates:
			out, err := f.own.Read(p, "")
			if err == nil && out.HasDocument() {
				if pd, err := review.Parse(out.Result.Document); err == nil {
					f.rv.index().Add(out.Result.Source.Path, review.FactsOf(pd.Data))
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read held results under %s: %w (they are listed once it can be read)", root, err)
	}
	return nil
}

// recoverHeld queues the held result at p, or completes its decision.
func (f *Finisher) recoverHeld(ctx context.Context, in Inbox, p string) {
	out, err := f.own.Read(p, "")
	if err != nil || out.Review == nil {
		return
	}
	h := out.Review
	resPath, errPath := f.outputs(in.Path, h.Source.Path)
	if r, err := f.own.Read(resPath, h.Source.Path); err == nil && r.HasDocument() && r.Result.Source.SHA256 == h.Source.SHA256 && decided(r.Data) {
		f.log.Info("completing a review approval interrupted by a stop", "file", h.Source.Path, "result", resPath)
		f.completeDecision(ctx, in, h, resPath, r.Result.Document, true)
		return
	}
	if e, err := f.own.Read(errPath, h.Source.Path); err == nil && e.Error != nil && e.Error.Error.Code == CodeRejectedInReview && e.Error.Source.SHA256 == h.Source.SHA256 {
		f.log.Info("completing a review rejection interrupted by a stop", "file", h.Source.Path, "error_file", errPath)
		f.completeDecision(ctx, in, h, errPath, nil, false)
		return
	}
	var hr heldReview
	_ = json.Unmarshal(h.Review, &hr)
	f.rv.put(HeldItem{ID: HeldID(p), Inbox: in.Path, File: h.Source.Path, Held: p, SHA256: h.Source.SHA256, Reasons: hr.Reasons, HeldAt: hr.HeldAt})
}

// completeDecision does what follows a decision's written file: the record,
// the sink and the move, then the held file's removal. Each step may be
// done twice (a crash between them) without doubling anything: the record
// and the ledger row are keyed by the file, and a moved file is not there to
// move again.
func (f *Finisher) completeDecision(ctx context.Context, in Inbox, h *results.Held, out string, doc json.RawMessage, ok bool) {
	rec, found, err := f.fileRecord(h.Source.Path)
	if err != nil {
		f.log.Error("cannot read the state of a reviewed file; the decision is completed at the next start", "file", h.Source.Path, "error", err)
		return
	}
	if !found {
		rec = state.File{Path: h.Source.Path, Inbox: in.Path, SHA256: h.Source.SHA256, Size: h.Source.Size, FirstSeen: time.Now()}
	}
	rec.Result, rec.Updated = out, time.Now()
	if ok {
		rec.State, rec.Code, rec.Reason = state.FileDone, "", ""
	} else {
		var e results.ErrorFile
		if o, err := f.own.Read(out, h.Source.Path); err == nil && o.Error != nil {
			e = *o.Error
		}
		rec.State, rec.Code, rec.Reason = state.FileFailed, CodeRejectedInReview, e.Error.Message
	}
	if err := f.st.Update(func(tx *state.Tx) error { return tx.DecideReview(rec) }); err != nil {
		f.log.Error("review decision written but not recorded; it is completed at the next start", "file", rec.Path, "error", err)
		return
	}
	if _, err := os.Lstat(rec.Path); err == nil {
		f.after(ctx, rec, out, doc, ok)
	} else if f.o.Sink != nil {
		f.o.Sink.Written(ctx, Written{Inbox: rec.Inbox, File: rec, Output: out, Document: doc})
	}
	if in.Review.Duplicates {
		if pd, err := review.Parse(doc); ok && err == nil {
			f.rv.index().Add(rec.Path, review.FactsOf(pd.Data))
		} else if !ok {
			f.rv.index().Remove(rec.Path)
		}
	}
	if f.rv.beforeRemoveHeld != nil {
		f.rv.beforeRemoveHeld()
	}
	held := f.heldPath(in.Path, h.Source.Path)
	if err := os.Remove(held); err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.log.Warn("cannot remove the held result of a decided file; it is removed at the next start", "held", held, "error", err)
	}
	f.rv.drop(HeldID(held))
}

func (f *Finisher) fileRecord(path string) (state.File, bool, error) {
	var rec state.File
	var ok bool
	err := f.st.View(func(tx *state.Tx) error {
		var err error
		rec, ok, err = tx.File(path)
		return err
	})
	return rec, ok, err
}

// Held lists the results waiting for review, oldest first.
func (f *Finisher) Held() []HeldItem {
	f.rv.mu.Lock()
	out := make([]HeldItem, 0, len(f.rv.items))
	for _, it := range f.rv.items {
		out = append(out, it)
	}
	f.rv.mu.Unlock()
	slices.SortFunc(out, func(a, b HeldItem) int {
		return cmp.Or(a.HeldAt.Compare(b.HeldAt), strings.Compare(a.File, b.File))
	})
	return out
}

// HeldDocument returns the held result id with the API's answer.
func (f *Finisher) HeldDocument(id string) (HeldItem, error) {
	it, h, err := f.readHeld(id)
	if err != nil {
		return HeldItem{}, err
	}
	it.Document = h.Document
	return it, nil
}

func (f *Finisher) readHeld(id string) (HeldItem, *results.Held, error) {
	it, ok := f.rv.get(id)
	if !ok {
		return HeldItem{}, nil, fmt.Errorf("review %s: %w (list them with 'ppsync review list')", id, ErrNotHeld)
	}
	out, err := f.own.Read(it.Held, it.File)
	if err != nil || out.Review == nil {
		f.rv.drop(id)
		return HeldItem{}, nil, fmt.Errorf("review %s: the held result %s cannot be read (%v): %w", id, it.Held, err, ErrNotHeld)
	}
	return it, out.Review, nil
}

// Approve delivers the held result id with the corrections of dec: it
// writes <file>.json (atomically) with the corrected values and a "review"
// object (decision, who, when, the original values), records the file
// done, tells the sink (the ledger) and moves the file when the inbox
// says so, then removes <file>.review.json. Nothing is sent to the API.
func (f *Finisher) Approve(ctx context.Context, id string, dec Decision) (string, error) {
	f.rv.decide.Lock()
	defer f.rv.decide.Unlock()
	it, h, in, err := f.heldIn(id, "approve")
	if err != nil {
		return "", err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(h.Document, &doc); err != nil || doc == nil {
		doc = map[string]json.RawMessage{}
	}
	pd, err := review.Parse(h.Document)
	if err != nil {
		pd.Data = map[string]any{}
	}
	data, orig, err := review.Correct(pd.Data, dec.Set)
	if err != nil {
		return "", fmt.Errorf("review %s (%s): %w", id, it.File, err)
	}
	if doc["extracted_data"], err = json.Marshal(data); err != nil {
		return "", fmt.Errorf("review %s: encode the corrected data: %w", id, err)
	}
	corrected, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("review %s: encode the corrected document: %w", id, err)
	}
	decision := DecisionApproved
	if dec.NotDuplicate {
		decision = DecisionNotDuplicate
	}
	if len(orig) == 0 {
		orig = nil
	}
	rv, _ := json.Marshal(decidedReview{Decision: decision, By: cmp.Or(dec.By, "unknown"), At: time.Now().UTC().Truncate(time.Second),
		Note: dec.Note, Reasons: it.Reasons, HeldAt: it.HeldAt, Original: orig})
	resPath, _ := f.outputs(it.Inbox, it.File)
	if err := results.WriteReviewedAt(resPath, corrected, h.Source, h.DuplicateOf, rv); err != nil {
		return "", fmt.Errorf("review %s: %w", id, err)
	}
	f.log.Info("result approved in review", "file", it.File, "result", resPath, "by", dec.By, "decision", decision, "corrected", len(dec.Set))
	f.completeDecision(ctx, in, h, resPath, corrected, true)
	return resPath, nil
}

// heldIn reads the held result id and finds its inbox, which must still
// be configured for a person to verb (approve, reject) it.
func (f *Finisher) heldIn(id, verb string) (HeldItem, *results.Held, Inbox, error) {
	it, h, err := f.readHeld(id)
	if err != nil {
		return it, h, Inbox{}, err
	}
	in, ok := f.inbox(it.Inbox, it.File)
	if !ok {
		return it, h, in, fmt.Errorf("review %s: %s is in no configured inbox any more; add its inbox back to %s it", id, it.File, verb)
	}
	return it, h, in, nil
}

// Reject turns the held result id into an error file with code
// REJECTED_IN_REVIEW and dec's note, records the file failed, tells the
// sink and moves the file when the inbox says so, then removes
// <file>.review.json. Nothing is sent to the API: 'ppsync reprocess' does
// that, and charges again.
func (f *Finisher) Reject(ctx context.Context, id string, dec Decision) (string, error) {
	f.rv.decide.Lock()
	defer f.rv.decide.Unlock()
	it, h, in, err := f.heldIn(id, "reject")
	if err != nil {
		return "", err
	}
	msg := "rejected in review by " + cmp.Or(dec.By, "unknown")
	if dec.Note != "" {
		msg += ": " + dec.Note
	}
	msg += " (no result is delivered; run 'ppsync reprocess' on the file to have it read again, which charges again)"
	_, errPath := f.outputs(it.Inbox, it.File)
	if err := results.WriteErrorAt(errPath, CodeRejectedInReview, msg, h.Source); err != nil {
		return "", fmt.Errorf("review %s: %w", id, err)
	}
	f.log.Info("result rejected in review", "file", it.File, "error_file", errPath, "by", dec.By)
	f.completeDecision(ctx, in, h, errPath, nil, false)
	return errPath, nil
}

// OpenOriginal opens the source file of the held result id for reading,
// for a person to see it beside the extracted fields. It is opened below
// its inbox only (os.Root), and refused when it or a folder on the way is
// a link, when it is not a regular file, or when it was swapped between the
// look and the open. The caller closes it.
func (f *Finisher) OpenOriginal(id string) (*os.File, error) {
	it, ok := f.rv.get(id)
	if !ok {
		return nil, fmt.Errorf("review %s: %w", id, ErrNotHeld)
	}
	in, ok := f.inbox(it.Inbox, it.File)
	if !ok {
		return nil, fmt.Errorf("review %s: %s is in no configured inbox: %w", id, it.File, ErrNotHeld)
	}
	file, err := safeopen.OpenBelow(in.Path, it.File)
	switch {
	case errors.Is(err, safeopen.ErrOutside):
		return nil, fmt.Errorf("review %s: %s is not inside its inbox %s: %w", id, it.File, in.Path, ErrNotHeld)
	case errors.Is(err, safeopen.ErrLink):
		return nil, fmt.Errorf("review %s: the original %s is reached through a link or is not a regular file, so it is not shown (remove the link): %w",
			id, it.File, ErrNotHeld)
	case err != nil:
		return nil, fmt.Errorf("review %s: the original: %w", id, err)
	}
	return file, nil
}
