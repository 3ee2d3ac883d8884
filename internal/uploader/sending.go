package uploader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/state"
)

func (u *Uploader) launch(ctx context.Context, b state.Batch) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		select {
		case u.sem <- struct{}{}:
		case <-ctx.Done():
			u.end(b, (*credits).release)
			return
		}
		defer func() { <-u.sem }()
		u.send(ctx, b)
	}()
}

// end closes a batch's time in flight; outcome ends its credit reservation.
func (u *Uploader) end(b state.Batch, outcome func(c *credits, pages int)) {
	u.mu.Lock()
	outcome(&u.credits, b.Pages)
	u.sending--
	u.intents = slices.DeleteFunc(u.intents, func(x state.Batch) bool { return x.Key == b.Key })
	u.mu.Unlock()
	u.wake()
}

// send submits one batch intent and records the outcome.
func (u *Uploader) send(ctx context.Context, b state.Batch) {
	replay := b.Attempts > 0
	if !u.registered(b) {
		u.mu.Lock()
		u.intents = append(u.intents, b)
		u.mu.Unlock()
	}
	uploads := make([]api.Upload, len(b.Docs))
	wants := make([]expect, len(b.Docs))
	if err := u.st.Update(func(tx *state.Tx) error {
		b.Attempts++
		for i, k := range b.Docs {
			d, _, err := tx.Doc(k)
			if err != nil {
				return err
			}
			// The file sent is checked against the life of it that was
			// hashed (openVerified); one never recorded cannot match.
			wants[i] = expect{size: d.Size, mtime: -1, contentType: d.ContentType}
			if f, ok, err := tx.File(b.Paths[i]); err != nil {
				return err
			} else if ok && f.SHA256 == d.SHA256 {
				wants[i].mtime, wants[i].identity = f.ModTime, f.Identity
			}
		}
		return tx.PutBatch(b)
	}); err != nil {
		u.log.Error("cannot record a submission attempt; retrying later", "error", err)
		u.retryLater(ctx, b)
		return
	}
	for i := range b.Docs {
		path := b.Paths[i]
		want := wants[i]
		ct := want.contentType
		if ct == "" {
			ct, _ = filecheck.ContentTypeOf(path) // unreadable: Open reports it
		}
		// No SHA256: the content was hashed once, at intake; the identity
		// checks of openVerified stand for a second pass over it.
		uploads[i] = api.Upload{Name: b.Names[i], ContentType: ct, Size: want.size,
			Open: func() (io.ReadCloser, error) { return u.open(path, want) }}
	}
	sub, err := u.o.API.Submit(ctx, b.ParserID, b.Key, uploads)
	if ctx.Err() != nil {
		u.end(b, (*credits).release) // the intent stays in the state and is replayed at the next start
		return
	}
	var fc *api.FileChangedError
	var se *api.SourceError
	switch {
	case err == nil:
		remaining := u.recordSubmitted(ctx, b, sub, replay)
		u.end(b, func(c *credits, pages int) { c.settle(pages, remaining) })
	case api.IsInsufficientCredits(err):
		u.log.Warn("the API says credits are too low for this batch; it waits and resumes by itself under a new idempotency key", "files", len(b.Docs), "pages", b.Pages)
		u.dissolve(b, "", true)
		u.end(b, func(c *credits, pages int) { c.exhausted(pages, time.Now()) })
	case api.IsUnauthorized(err):
		u.log.Error("the API refused the key; submissions are paused", "error", err)
		select {
		case u.fatal <- fmt.Errorf("%w: %v", ErrUnauthorized, err):
		default:
		}
		u.retryLater(ctx, b)
	case api.IsParserProblem(err):
		u.failBatch(ctx, b, err)
		u.end(b, (*credits).release)
	case tooLarge(err):
		u.log.Warn("the request was refused as too large; splitting the batch by size", "files", len(b.Docs), "bytes", b.Bytes, "error", err)
		u.split(ctx, b, err, true)
		u.end(b, (*credits).release)
	case api.IsBadFile(err) && requestLevel(err, b):
		u.log.Error("the API refused the request itself, not a file in it; failing the batch once with its message (not splitting)",
			"files", len(b.Docs), "error", err)
		u.failBatch(ctx, b, err)
		u.end(b, (*credits).release)
	case api.IsBadFile(err):
		u.split(ctx, b, err, false)
		u.end(b, (*credits).release)
	case errors.As(err, &fc), errors.As(err, &se):
		var changed string
		if fc != nil {
			changed = pathByName(b, fc.Name)
		} else {
			changed = pathByName(b, se.Name)
		}
		u.log.Warn("a file changed or vanished while it was being sent; the upload was aborted before it completed and nothing was charged",
			"file", changed, "error", err)
		u.dissolve(b, changed, false)
		u.end(b, (*credits).release)
	case unexpected4xx(err) && b.Attempts >= maxUnexpectedAttempts:
		u.log.Error("the API keeps refusing this batch with an unexpected answer; giving up, each file gets an error file with the API's code and message",
			"files", len(b.Docs), "attempts", b.Attempts, "error", err)
		u.failBatch(ctx, b, err)
		u.end(b, (*credits).release)
	case unexpected4xx(err):
		u.log.Warn("the API refused this batch with an unexpected answer; trying again with the same idempotency key",
			"files", len(b.Docs), "attempt", b.Attempts, "of", maxUnexpectedAttempts, "error", err)
		u.retryLater(ctx, b)
	default:
		u.log.Warn("submission failed; it will be retried with the same idempotency key", "files", len(b.Docs), "error", err)
		u.retryLater(ctx, b)
	}
}

// maxUnexpectedAttempts bounds how often a batch is sent while the API
// answers it with an unexpected 4xx (409, 411, 422, an unknown code).
const maxUnexpectedAttempts = 3

// tooLarge reports a 413: the request body was too large for the API or a
// proxy before it.
func tooLarge(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.StatusCode == http.StatusRequestEntityTooLarge
}

// requestLevel reports an INVALID_PAYLOAD answer that names none of the
// batch's files: the request itself was refused (a missing parser_id, a
// malformed body), and splitting the batch would only repeat it. An answer
// that names a file, or refuses a file name, blames a file: the batch is
// split to isolate it (refusesAName, nameRefused).
func requestLevel(err error, b state.Batch) bool {
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != apitypes.CodeInvalidPayload {
		return false
	}
	if refusesAName(ae.Message) {
		return false
	}
	for _, n := range b.Names {
		if names(ae.Message, n) {
			return false
		}
	}
	return true
}

// names reports that msg names the upload name n, as it is or quoted the
// way a JSON or Go encoder escapes it.
func names(msg, n string) bool {
	if n == "" {
		return false
	}
	q := strconv.QuoteToASCII(n)
	return strings.Contains(msg, n) || strings.Contains(msg, q[1:len(q)-1])
}

// refusesAName reports a refusal that blames a file name without saying
// which ("Invalid file name", "filename not allowed").
func refusesAName(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "file name") || strings.Contains(m, "filename")
}

// unexpected4xx reports a client error the submission has no specific
// path for; 408 and 429 are temporary and retried like outages.
func unexpected4xx(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 && !ae.Temporary()
}

func (u *Uploader) registered(b state.Batch) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.ContainsFunc(u.intents, func(x state.Batch) bool { return x.Key == b.Key })
}

func pathByName(b state.Batch, name string) string {
	for i, n := range b.Names {
		if n == name {
			return b.Paths[i]
		}
	}
	return ""
}

// retryLater keeps the intent (and its credit reservation) and sends it
// again after a pause.
func (u *Uploader) retryLater(ctx context.Context, b state.Batch) {
	wait := u.o.CreditRecheck
	u.mu.Lock()
	u.paused = time.Now().Add(wait)
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			u.end(b, (*credits).release)
			return
		case <-t.C:
		}
		if fresh, ok := u.reload(b.Key); ok {
			u.send(ctx, fresh)
			return
		}
		u.end(b, (*credits).release)
	}()
}

func (u *Uploader) reload(key string) (state.Batch, bool) {
	var b state.Batch
	var ok bool
	_ = u.st.View(func(tx *state.Tx) error {
		var err error
		b, ok, err = tx.Batch(key)
		return err
	})
	return b, ok
}

// match maps each file of a batch (by index) to the id of the answer's
// document that carries its upload name. Matching is by name only, never
// by position: a name the answer does not carry, or that the batch or the
// answer holds twice, is left unmatched.
func match(names []string, docs []apitypes.Document) map[int]string {
	nameCount := map[string]int{}
	for _, n := range names {
		nameCount[n]++
	}
	byName := map[string]string{}
	docCount := map[string]int{}
	for _, d := range docs {
		docCount[d.Filename]++
		byName[d.Filename] = d.DocumentID
	}
	out := map[int]string{}
	for i, n := range names {
		if nameCount[n] == 1 && docCount[n] == 1 && byName[n] != "" {
			out[i] = byName[n]
		}
	}
	return out
}

// maxUnmatched is how many submission answers may leave a document out
// before it fails: the first is sent again (the same batch is answered from
// the idempotency cache, so nothing is charged twice), the second fails it.
const maxUnmatched = 2

// recordSubmitted matches the answer's documents to the batch by name and
// hands the job to the poller. Files the answer does not name are not part
// of the job the key maps to: they are queued again. It returns the
// balance the answer reported, if any.
//
// The documents are recorded in parts of docsPerWrite and the intent is
// deleted with the last part. A restart in between replays the intent with
// its key; documents already recorded from it are then left as they are.
func (u *Uploader) recordSubmitted(ctx context.Context, b state.Batch, sub api.Submission, replay bool) *int {
	x := sub.Extraction
	ids := map[string]string{}
	matched := match(b.Names, x.Documents)
	var requeue, unmatched []string
	now := time.Now()
	var err error
	for i := 0; err == nil && i < len(b.Docs); i += docsPerWrite {
		j := min(i+docsPerWrite, len(b.Docs))
		if i > 0 && u.partWritten != nil {
			if err = u.partWritten("answer"); err != nil {
				break
			}
		}
		partIDs := map[string]string{}
		var partRequeue, partUnmatched []string
		err = u.updateRetrying(ctx, "record a submission", func(tx *state.Tx) error {
			clear(partIDs)
			partRequeue, partUnmatched = nil, nil
			for k := i; k < j; k++ {
				d, ok, err := tx.Doc(b.Docs[k])
				if err != nil {
					return err
				}
				if !ok || d.Batch != b.Key {
					continue
				}
				if d.State == state.DocSubmitted && d.ExtractionID == x.ExtractionID {
					partIDs[d.DocumentID] = d.Key // recorded before a restart
					continue
				}
				if d.State != state.DocBatched {
					continue
				}
				// Still batched (the answer did not name it, too often
				// to queue it again): it is failed with the others.
				write := tx.AmendDoc
				if docID, ok := matched[k]; ok {
					d.State, d.ExtractionID, d.DocumentID, d.SubmittedAt, d.UploadName = state.DocSubmitted, x.ExtractionID, docID, now, b.Names[k]
					partIDs[docID] = d.Key
					write = tx.RecordAnswer
				} else {
					d.Unmatched++
					d.Batch = ""
					if d.Unmatched >= maxUnmatched {
						partUnmatched = append(partUnmatched, d.Key)
					} else {
						partRequeue = append(partRequeue, d.Key)
						write = tx.RequeueDoc
					}
				}
				d.Updated = now
				if err := write(d); err != nil {
					return err
				}
			}
			if j < len(b.Docs) {
				return nil
			}
			return tx.DeleteBatch(b.Key)
		})
		if err == nil {
			maps.Copy(ids, partIDs)
			requeue = append(requeue, partRequeue...)
			unmatched = append(unmatched, partUnmatched...)
		}
	}
	if err != nil {
		u.log.Error("submitted, but cannot record it; the batch is replayed with the same key (not charged again) at the next start", "extraction_id", x.ExtractionID, "error", err)
	}
	if len(requeue) > 0 {
		u.log.Warn("the API's answer does not name some files of the batch; they are not part of that job and are sent again",
			"extraction_id", x.ExtractionID, "files", len(requeue))
	}
	u.requeue(b.ParserID, requeue)
	if len(unmatched) > 0 {
		u.log.Error("the API's answers never named some files of a batch; no result is matched to them by guess",
			"extraction_id", x.ExtractionID, "files", len(unmatched))
		for _, k := range unmatched {
			i := slices.Index(b.Docs, k)
			msg := fmt.Sprintf("the API answered submission %s without naming this file (sent as %q), so no result can be matched to it safely; "+
				"it was charged in that job: check that extraction in the PerfectParser dashboard, and run 'ppsync retry' on the file only "+
				"if its result is not there (a retry is charged again)", x.ExtractionID, b.Names[i])
			if err := u.o.Finisher.Failed(ctx, []string{k}, "NOT_IN_ANSWER", msg); err != nil {
				u.log.Error("cannot record a file the API's answer did not name", "file", b.Paths[i], "error", err)
			}
		}
	}
	if err == nil && replay && sub.Replayed {
		u.log.Info("recovered a submission interrupted by a restart (not charged again)", "extraction_id", x.ExtractionID, "files", len(ids))
	} else if err == nil {
		left := -1
		if x.CreditsRemaining != nil {
			left = *x.CreditsRemaining
		}
		u.log.Info("submitted", "extraction_id", x.ExtractionID, "files", len(ids), "pages", x.PageCount, "credits_left", left)
	}
	// The parts recorded are followed now, even if the rest waits for the
	// next start.
	if len(ids) > 0 {
		u.o.Tracker.Track(x.ExtractionID, ids)
	}
	return x.CreditsRemaining
}

func (u *Uploader) requeue(parser string, keys []string) {
	if len(keys) == 0 {
		return
	}
	var ds []state.Doc
	_ = u.st.View(func(tx *state.Tx) error {
		for _, k := range keys {
			if d, ok, _ := tx.Doc(k); ok {
				ds = append(ds, d)
			}
		}
		return nil
	})
	u.mu.Lock()
	qs := make([]queued, len(ds))
	for i, d := range ds {
		qs[i] = u.queue.entry(parser, d, time.Now())
	}
	u.queue.of(parser).pushFront(qs)
	u.mu.Unlock()
	u.wake()
}
