package uploader

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// CodeWaitingCredits marks a queued file whose document needs more credits
// than the balance holds: it waits for a top-up while smaller files go
// ahead. The code and reason sit on the file's record (ppsync status, the
// status page, a --once summary) until the document is sent.
const CodeWaitingCredits = "WAITING_FOR_CREDITS"

// CreditWait is a queued file held back because its document needs more
// credits than are available.
type CreditWait struct {
	Path      string `json:"path"`
	Inbox     string `json:"inbox"`
	Needs     int    `json:"needs"`
	Available int    `json:"available"`
}

// Reason is the sentence shown for the file.
func (w CreditWait) Reason() string { return waitReason(w.Needs, w.Available) }

func waitReason(needs, available int) string {
	return fmt.Sprintf("needs %d credits, %d available: it waits for credits to be added (smaller files go ahead) "+
		"and is sent by itself when the balance allows", needs, max(available, 0))
}

// held is a queued document held back for credits, in the uploader's map
// (guarded by its mutex).
type held struct {
	parser    string
	pages     int
	available int // the balance its files' records were last marked with
	pass      uint64
	files     []CreditWait
}

// waitMark is a change to write to the records of a held document's files:
// mark them with pages/available, or clear the mark (unmark).
type waitMark struct {
	key              string
	pages, available int
	unmark           bool
	fresh            bool // newly held
}

// noteHeld updates the held documents of parser after a pick (call with
// u.mu held): heldNow are the entries passed over for needing more than
// the whole balance, taken the ones going into a batch, full whether the
// whole queue was looked at (then a document no longer seen left the queue
// some other way). It returns the records to change.
func (u *Uploader) noteHeld(parser string, heldNow, taken []queued, full bool) []waitMark {
	if u.held == nil {
		u.held = map[string]*held{}
	}
	u.heldPass++
	pass := u.heldPass
	var marks []waitMark
	avail := u.credits.balance
	for _, e := range heldNow {
		k := u.queue.key(parser, e)
		h := u.held[k]
		if h == nil {
			h = &held{parser: parser, pages: int(e.pages), available: avail}
			u.held[k] = h
			marks = append(marks, waitMark{key: k, pages: h.pages, available: avail, fresh: true})
		}
		h.pass = pass
	}
	for _, e := range taken {
		k := u.queue.key(parser, e)
		if _, ok := u.held[k]; ok {
			delete(u.held, k)
			marks = append(marks, waitMark{key: k, unmark: true})
		}
	}
	for k, h := range u.held {
		switch {
		case h.parser != parser:
		case full && h.pass != pass:
			delete(u.held, k)
			marks = append(marks, waitMark{key: k, unmark: true})
		case h.available != avail:
			// The balance moved: the reason says what is available now.
			h.available = avail
			marks = append(marks, waitMark{key: k, pages: h.pages, available: avail})
		}
	}
	return marks
}

// writeMarks records the marks on the files of their documents, outside
// the uploader's mutex, and logs the documents newly held back.
func (u *Uploader) writeMarks(marks []waitMark) {
	if len(marks) == 0 {
		return
	}
	files := map[string][]CreditWait{}
	err := u.st.Update(func(tx *state.Tx) error {
		clear(files)
		for _, m := range marks {
			d, ok, err := tx.Doc(m.key)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			var ws []CreditWait
			paths, err := tx.WaitingOn(d.Key)
			if err != nil {
				return err
			}
			for _, p := range paths {
				rec, ok, err := tx.File(p)
				if err != nil {
					return err
				}
				if !ok || rec.State != state.FileQueued && rec.State != state.FileDuplicate {
					continue
				}
				code, reason := CodeWaitingCredits, waitReason(m.pages, m.available)
				if m.unmark {
					if rec.Code != CodeWaitingCredits {
						continue
					}
					code, reason = "", ""
				}
				rec.Code, rec.Reason, rec.Updated = code, reason, time.Now()
				if err := tx.AmendFile(rec); err != nil {
					return err
				}
				ws = append(ws, CreditWait{Path: p, Inbox: rec.Inbox, Needs: m.pages, Available: max(m.available, 0)})
			}
			files[m.key] = ws
		}
		return nil
	})
	if err != nil {
		u.log.Error("cannot record why files wait for credits; they still wait and go when the balance allows", "error", state.Fault(err))
	}
	u.mu.Lock()
	for _, m := range marks {
		if h := u.held[m.key]; h != nil && !m.unmark {
			h.files = files[m.key]
		}
	}
	u.mu.Unlock()
	for _, m := range marks {
		if !m.fresh {
			continue
		}
		for _, w := range files[m.key] {
			u.log.Warn("not enough credits for this file; it waits while smaller files go ahead, and is sent by itself when credits are added",
				"file", w.Path, "needs", w.Needs, "available", w.Available)
		}
	}
}

// CreditWaits lists the queued files held back because their documents
// need more credits than are available, by path.
func (u *Uploader) CreditWaits() []CreditWait {
	u.mu.Lock()
	var out []CreditWait
	for _, h := range u.held {
		for _, w := range h.files {
			w.Available = max(u.credits.balance, 0)
			out = append(out, w)
		}
	}
	u.mu.Unlock()
	slices.SortFunc(out, func(a, b CreditWait) int { return strings.Compare(a.Path, b.Path) })
	return out
}
