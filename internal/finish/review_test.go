package finish_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/ledger"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/review"
	"github.com/ppsync/ppsync/internal/state"
)

var reviewRules = review.Rules{Below: 0.85, Require: []string{"invoice_number", "total_amount", "invoice_date"}, Sums: true, Tolerance: 0.01, Duplicates: true}

// reviewEnv is an inbox with review rules, a state and a ledger fed by the
// sink, which can be restarted on the same folder and state.
type reviewEnv struct {
	t      *testing.T
	dir    string
	inbox  finish.Inbox
	stPath string
	st     *state.Store
	fin    *finish.Finisher
	led    *ledger.Ledger
	mu     sync.Mutex
	sunk   []finish.Written
}

func (e *reviewEnv) Forget(int, string) {}

func newReviewEnv(t *testing.T, move bool) *reviewEnv {
	t.Helper()
	dir := t.TempDir()
	e := &reviewEnv{t: t, dir: dir, stPath: filepath.Join(t.TempDir(), "s.db")}
	e.inbox = finish.Inbox{Path: filepath.Join(dir, "inbox"), Move: move, ProcessedDir: filepath.Join(dir, "done"),
		FailedDir: filepath.Join(dir, "failed"), Review: reviewRules}
	for _, d := range []string{e.inbox.Path, e.inbox.ProcessedDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	return e
}

// start opens the state and a new Finisher and ledger, as a restart does.
func (e *reviewEnv) start() {
	e.t.Helper()
	st, err := state.Open(e.stPath, time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	e.st = st
	e.t.Cleanup(func() { st.Close() })
	e.led, err = ledger.New(ledger.Options{Path: filepath.Join(e.dir, "ledger.csv"), InboxRoot: e.inbox.Path, Delay: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.led.Load(context.Background(), e.inbox.Path, e.inbox.ProcessedDir); err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.sunk = nil
	e.mu.Unlock()
	own := results.Own{Roots: results.RootsOf(e.inbox.Path, e.inbox.ProcessedDir, e.inbox.FailedDir)}
	e.fin = finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{e.inbox}, Watcher: e,
		Sink: finish.SinkFunc(func(_ context.Context, w finish.Written) {
			e.mu.Lock()
			e.sunk = append(e.sunk, w)
			e.mu.Unlock()
			if w.Document == nil {
				e.led.Remove(w.File.Path)
				return
			}
			if out, err := own.Read(w.Output, w.File.Path); err == nil && !e.led.PutResult(out.Data) {
				e.led.Remove(w.File.Path)
			}
		})})
	if err := e.fin.RecoverReviews(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// restart closes the state and starts again.
func (e *reviewEnv) restart() {
	e.t.Helper()
	e.st.Close()
	e.start()
}

// finished drops name with content sha and finishes it with the API's
// extracted data and confidence.
func (e *reviewEnv) finished(name, sha string, conf float64, data string) string {
	e.t.Helper()
	p := filepath.Join(e.inbox.Path, name)
	if err := os.WriteFile(p, []byte("%PDF-1.4 "+sha+" %%EOF"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	key := state.DocKey("prs", sha)
	if err := e.st.Update(func(tx *state.Tx) error {
		if err := tx.SeedFile(state.File{Path: p, Inbox: e.inbox.Path, ParserID: "prs", SHA256: sha, Pages: 1, State: state.FileQueued}); err != nil {
			return err
		}
		return tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: sha, Pages: 1, State: state.DocSubmitted,
			Files: []string{p}, UploadName: name, DocumentID: "doc_" + sha})
	}); err != nil {
		e.t.Fatal(err)
	}
	d := doc(e.t, `{"document_id":"doc_`+sha+`","filename":"`+name+`","status":"completed","page_count":1,"confidence":`+
		jsonNum(conf)+`,"extracted_data":`+data+`}`)
	if err := e.fin.Done(context.Background(), key, d); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

func (e *reviewEnv) rec(p string) state.File {
	e.t.Helper()
	var f state.File
	_ = e.st.View(func(tx *state.Tx) error { f, _, _ = tx.File(p); return nil })
	return f
}

func (e *reviewEnv) sunkFor(p string) []finish.Written {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []finish.Written
	for _, w := range e.sunk {
		if w.File.Path == p {
			out = append(out, w)
		}
	}
	return out
}

func (e *reviewEnv) heldID(p string) string {
	e.t.Helper()
	for _, it := range e.fin.Held() {
		if it.File == p {
			return it.ID
		}
	}
	e.t.Fatalf("%s is not held; held: %+v", p, e.fin.Held())
	return ""
}

// ledgerRows is the ledger's rows after a flush, as CSV lines.
func (e *reviewEnv) ledgerRows() []string {
	e.t.Helper()
	if err := e.led.Flush(); err != nil {
		e.t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(e.dir, "ledger.csv"))
	if err != nil {
		e.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(b), "\uFEFF")), "\n")
	return lines[1:]
}

const goodData = `{"vendor_name":"Acme","invoice_number":"INV-1","invoice_date":"2026-06-01","total_amount":1250.75,"line_items":[{"description":"a","amount":1000},{"description":"b","amount":250.75}]}`

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestReviewHoldsWhatTheRulesCatch(t *testing.T) {
	cases := []struct {
		name  string
		conf  float64
		data  string
		rules []string
	}{
		{"good result is delivered", 0.97, goodData, nil},
		{"low confidence", 0.5, goodData, []string{review.RuleConfidence}},
		{"missing invoice number", 0.97, `{"vendor_name":"Acme","invoice_number":null,"invoice_date":"2026-06-01","total_amount":5}`, []string{review.RuleMissing}},
		{"sums do not add up", 0.97, `{"vendor_name":"Acme","invoice_number":"INV-1","invoice_date":"2026-06-01","total_amount":1260.75,"line_items":[{"amount":1000},{"amount":250.75}]}`, []string{review.RuleSums}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newReviewEnv(t, false)
			p := e.finished("a.pdf", "sha1", c.conf, c.data)
			held := results.ReviewPath(p)
			if c.rules == nil {
				if !exists(results.ResultPath(p)) || exists(held) || len(e.fin.Held()) != 0 || len(e.ledgerRows()) != 1 {
					t.Fatalf("not delivered: result %v held %v queue %v", exists(results.ResultPath(p)), exists(held), e.fin.Held())
				}
				return
			}
			if exists(results.ResultPath(p)) {
				t.Fatal("a held result was delivered as <file>.json")
			}
			out, err := results.Own{Roots: []string{e.inbox.Path}}.Read(held, p)
			if err != nil || out.Review == nil {
				t.Fatalf("held file: %v", err)
			}
			if !strings.Contains(string(out.Data), `"confidence"`) || !strings.Contains(string(out.Data), `"rule": "`+c.rules[0]+`"`) {
				t.Fatalf("held file lacks the API's answer or the reason:\n%s", out.Data)
			}
			items := e.fin.Held()
			if len(items) != 1 || items[0].File != p || items[0].Reasons[0].Rule != c.rules[0] || items[0].HeldAt.IsZero() {
				t.Fatalf("queue %+v", items)
			}
			if r := e.rec(p); r.State != state.FileDone || r.Result != held || !strings.Contains(r.Reason, "held for review") {
				t.Fatalf("record %+v", r)
			}
			if len(e.sunkFor(p)) != 0 || len(e.ledgerRows()) != 0 {
				t.Fatalf("a held result reached the sink or the ledger: %+v %v", e.sunk, e.ledgerRows())
			}
		})
	}
}

func TestReviewApproveDeliversCorrectedResult(t *testing.T) {
	for _, move := range []bool{false, true} {
		t.Run(map[bool]string{false: "keep", true: "move"}[move], func(t *testing.T) {
			e := newReviewEnv(t, move)
			p := e.finished("a.pdf", "sha1", 0.97,
				`{"vendor_name":"Acme","invoice_number":"INV-1","invoice_date":"2026-06-01","total_amount":1260.75,"line_items":[{"amount":1000},{"amount":250.75}]}`)
			id := e.heldID(p)
			if _, err := e.fin.Approve(context.Background(), id, finish.Decision{By: "anna", Set: map[string]string{"total_amount": "1250.75"}, Note: "typo"}); err != nil {
				t.Fatal(err)
			}
			res := results.ResultPath(p)
			if move {
				res = filepath.Join(e.inbox.ProcessedDir, "a.pdf.json")
			}
			b, err := os.ReadFile(res)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Document struct {
					ExtractedData map[string]any `json:"extracted_data"`
					Confidence    float64        `json:"confidence"`
				} `json:"document"`
				Review struct {
					Decision string         `json:"decision"`
					By       string         `json:"by"`
					At       time.Time      `json:"at"`
					Note     string         `json:"note"`
					Original map[string]any `json:"original"`
					Reasons  []review.Reason
				} `json:"review"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.Document.ExtractedData["total_amount"] != 1250.75 || r.Document.Confidence != 0.97 || r.Review.Decision != "approved" ||
				r.Review.By != "anna" || r.Review.At.IsZero() || r.Review.Note != "typo" || r.Review.Original["total_amount"] != 1260.75 ||
				len(r.Review.Reasons) != 1 || r.Review.Reasons[0].Rule != review.RuleSums {
				t.Fatalf("approved result:\n%s", b)
			}
			if exists(results.ReviewPath(p)) || len(e.fin.Held()) != 0 {
				t.Fatal("the held result is still there")
			}
			if rec := e.rec(p); rec.State != state.FileDone || rec.Result != results.ResultPath(p) || move != (rec.MovedTo != "") {
				t.Fatalf("record %+v", rec)
			}
			if rows := e.ledgerRows(); len(rows) != 1 || !strings.Contains(rows[0], "1250.75") {
				t.Fatalf("ledger rows %v", rows)
			}
			if _, err := e.fin.Approve(context.Background(), id, finish.Decision{By: "anna"}); !errors.Is(err, finish.ErrNotHeld) {
				t.Fatalf("second approval: %v", err)
			}
		})
	}
}

func TestReviewApproveRefusesABadCorrection(t *testing.T) {
	e := newReviewEnv(t, false)
	p := e.finished("a.pdf", "sha1", 0.5, goodData)
	_, err := e.fin.Approve(context.Background(), e.heldID(p), finish.Decision{By: "x", Set: map[string]string{"total_amount": "lots"}})
	if err == nil || !strings.Contains(err.Error(), "total_amount is a number") {
		t.Fatalf("err = %v", err)
	}
	if exists(results.ResultPath(p)) || !exists(results.ReviewPath(p)) {
		t.Fatal("a refused correction changed the files")
	}
}

func TestReviewReject(t *testing.T) {
	e := newReviewEnv(t, false)
	p := e.finished("a.pdf", "sha1", 0.5, goodData)
	if _, err := e.fin.Reject(context.Background(), e.heldID(p), finish.Decision{By: "bob", Note: "not our invoice"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(results.ErrorPath(p))
	if err != nil {
		t.Fatal(err)
	}
	var ef results.ErrorFile
	if err := json.Unmarshal(b, &ef); err != nil || ef.Error.Code != finish.CodeRejectedInReview || !strings.Contains(ef.Error.Message, "not our invoice") ||
		!strings.Contains(ef.Error.Message, "bob") {
		t.Fatalf("error file %s", b)
	}
	if exists(results.ReviewPath(p)) || exists(results.ResultPath(p)) || len(e.fin.Held()) != 0 || len(e.ledgerRows()) != 0 {
		t.Fatal("a rejected result is still held or delivered")
	}
	if rec := e.rec(p); rec.State != state.FileFailed || rec.Code != finish.CodeRejectedInReview {
		t.Fatalf("record %+v", rec)
	}
}

func TestReviewDuplicates(t *testing.T) {
	e := newReviewEnv(t, false)
	a := e.finished("a.pdf", "sha1", 0.97, goodData)
	// Other bytes, same vendor and invoice number.
	b := e.finished("b.pdf", "sha2", 0.97, strings.Replace(goodData, `"2026-06-01"`, `"2026-06-02"`, 1))
	// Other number, same vendor, date and total.
	c := e.finished("c.pdf", "sha3", 0.97, strings.Replace(goodData, `"INV-1"`, `"INV-9"`, 1))
	// Another invoice of the same vendor.
	d := e.finished("d.pdf", "sha4", 0.97, strings.NewReplacer(`"INV-1"`, `"INV-2"`, `1250.75`, `10`, `1000`, `5`, `250.75`, `5`).Replace(goodData))
	if !exists(results.ResultPath(a)) || !exists(results.ResultPath(d)) {
		t.Fatal("the first invoice and another one were held")
	}
	for _, p := range []string{b, c} {
		items := e.fin.Held()
		found := false
		for _, it := range items {
			if it.File == p && it.Reasons[0].Rule == review.RuleDuplicate && it.Reasons[0].DuplicateOf == a {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s not held as a duplicate of %s: %+v", p, a, items)
		}
	}
	// "Not a duplicate" delivers it; the duplicate index survives a restart.
	if _, err := e.fin.Approve(context.Background(), e.heldID(b), finish.Decision{By: "anna", NotDuplicate: true}); err != nil {
		t.Fatal(err)
	}
	if out, err := os.ReadFile(results.ResultPath(b)); err != nil || !strings.Contains(string(out), `"decision": "not_duplicate"`) {
		t.Fatalf("not a duplicate: %s %v", out, err)
	}
	e.restart()
	f := e.finished("f.pdf", "sha5", 0.97, goodData)
	if !exists(results.ReviewPath(f)) {
		t.Fatal("after a restart a duplicate was delivered: the index was not rebuilt from the result files")
	}
}

func TestReviewQueueSurvivesRestartAndStateLoss(t *testing.T) {
	e := newReviewEnv(t, false)
	p := e.finished("a.pdf", "sha1", 0.5, goodData)
	id := e.heldID(p)
	e.restart()
	if it := e.fin.Held(); len(it) != 1 || it[0].ID != id || it[0].Reasons[0].Rule != review.RuleConfidence {
		t.Fatalf("after a restart: %+v", it)
	}
	// The state is lost (or rebuilt): the file is seen again.
	e.st.Close()
	if err := os.Remove(e.stPath); err != nil {
		t.Fatal(err)
	}
	e.start()
	rec := state.File{Path: p, Inbox: e.inbox.Path, ParserID: "prs", SHA256: "sha1", State: state.FileQueued}
	done, err := e.fin.AlreadyDone(rec)
	if err != nil || !done {
		t.Fatalf("a held file seen again is not recognised (it would be paid for again): %v %v", done, err)
	}
	if r := e.rec(p); r.State != state.FileDone || r.Result != results.ReviewPath(p) {
		t.Fatalf("record %+v", r)
	}
	item, err := e.fin.HeldDocument(id)
	if err != nil || !strings.Contains(string(item.Document), `"INV-1"`) {
		t.Fatalf("held document: %v", err)
	}
	if _, err := e.fin.Approve(context.Background(), id, finish.Decision{By: "anna"}); err != nil {
		t.Fatal(err)
	}
	// The approved file seen again keeps its approved result.
	e.st.Close()
	if err := os.Remove(e.stPath); err != nil {
		t.Fatal(err)
	}
	e.start()
	if done, err := e.fin.AlreadyDone(rec); err != nil || !done || e.rec(p).Result != results.ResultPath(p) {
		t.Fatalf("an approved file seen again: %v %v %+v", done, err, e.rec(p))
	}
	// And when its document finishes again (a copy, a retried job), the
	// approved result stays and nothing is held.
	e.st.Close()
	if err := os.Remove(e.stPath); err != nil {
		t.Fatal(err)
	}
	e.start()
	before, _ := os.ReadFile(results.ResultPath(p))
	e.finished("a.pdf", "sha1", 0.5, goodData)
	after, _ := os.ReadFile(results.ResultPath(p))
	if string(before) != string(after) || exists(results.ReviewPath(p)) || len(e.fin.Held()) != 0 {
		t.Fatalf("the approved result was replaced:\n%s", after)
	}
}

// crashAt runs decide in a goroutine whose hook ends it where a kill would,
// after the decision's file is written and recorded, before the held file
// is removed.
func crashAt(t *testing.T, e *reviewEnv, decide func() error) {
	t.Helper()
	finish.SetBeforeRemoveHeld(e.fin, runtime.Goexit)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = decide()
	}()
	<-done
	finish.SetBeforeRemoveHeld(e.fin, nil)
}

func TestReviewApprovalInterruptedIsCompletedOnce(t *testing.T) {
	t.Run("after the result, before the ledger", func(t *testing.T) {
		e := newReviewEnv(t, false)
		p := e.finished("a.pdf", "sha1", 0.5, goodData)
		// What a kill right after the result's rename leaves: the
		// approved result and the held one.
		var h results.Held
		b, _ := os.ReadFile(results.ReviewPath(p))
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		if err := results.WriteReviewedAt(results.ResultPath(p), h.Document, h.Source, "", json.RawMessage(`{"decision":"approved","by":"anna"}`)); err != nil {
			t.Fatal(err)
		}
		e.restart()
		if exists(results.ReviewPath(p)) || len(e.fin.Held()) != 0 {
			t.Fatal("the interrupted approval was not completed")
		}
		if rows := e.ledgerRows(); len(rows) != 1 {
			t.Fatalf("ledger rows %v", rows)
		}
		if r := e.rec(p); r.Result != results.ResultPath(p) || r.State != state.FileDone {
			t.Fatalf("record %+v", r)
		}
	})
	t.Run("before the held file is removed", func(t *testing.T) {
		e := newReviewEnv(t, false)
		p := e.finished("a.pdf", "sha1", 0.5, goodData)
		id := e.heldID(p)
		crashAt(t, e, func() error {
			_, err := e.fin.Approve(context.Background(), id, finish.Decision{By: "anna", Set: map[string]string{"invoice_number": "INV-7"}})
			return err
		})
		if !exists(results.ReviewPath(p)) {
			t.Fatal("the crash hook did not stop the approval before the removal")
		}
		e.restart()
		if exists(results.ReviewPath(p)) || len(e.fin.Held()) != 0 {
			t.Fatal("the interrupted approval was not completed")
		}
		if rows := e.ledgerRows(); len(rows) != 1 || !strings.Contains(rows[0], "INV-7") {
			t.Fatalf("ledger rows %v (one row, corrected)", rows)
		}
		if n := len(e.sunkFor(p)); n != 1 {
			t.Fatalf("the recovery told the sink %d times", n)
		}
	})
	t.Run("rejection before the held file is removed", func(t *testing.T) {
		e := newReviewEnv(t, false)
		p := e.finished("a.pdf", "sha1", 0.5, goodData)
		id := e.heldID(p)
		crashAt(t, e, func() error { _, err := e.fin.Reject(context.Background(), id, finish.Decision{By: "bob"}); return err })
		e.restart()
		if exists(results.ReviewPath(p)) || len(e.fin.Held()) != 0 || !exists(results.ErrorPath(p)) || exists(results.ResultPath(p)) {
			t.Fatal("the interrupted rejection was not completed")
		}
	})
}
