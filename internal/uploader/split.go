package uploader

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
)

// dissolve deletes an intent the server refused without charging, and puts
// its documents back in the queue. changed names a file that changed or
// vanished: it leaves its document, which is dropped if no file remains.
// newKey moves the documents to a new key generation, so an API that caches
// error answers under the Idempotency-Key does not replay the refusal.
func (u *Uploader) dissolve(b state.Batch, changed string, newKey bool) {
	var back []string
	err := u.st.Update(func(tx *state.Tx) error {
		for _, k := range b.Docs {
			d, ok, err := tx.Doc(k)
			if err != nil || !ok || !inIntent(d, b) {
				continue
			}
			if changed != "" {
				if err := tx.Detach(&d, changed); err != nil {
					return err
				}
			}
			d.Batch, d.Updated = "", time.Now()
			if newKey {
				d.KeyGen++
			}
			write := tx.RequeueDoc
			if d.First == "" {
				d.Code, d.Message = "GONE", "every file with this content changed or was deleted before it was sent"
				write = tx.FailDoc
			} else {
				back = append(back, k)
			}
			if err := write(d); err != nil {
				return err
			}
		}
		return tx.DeleteBatch(b.Key)
	})
	if err != nil {
		u.log.Error("cannot update the state after a refused submission; it is replayed at the next start", "error", err)
		return
	}
	if changed != "" {
		u.o.Finisher.Forget(changed)
	}
	u.requeue(b.ParserID, back)
}

// halves splits a batch in two new batches (keys are set when recorded):
// by count, or, given each document's size, where the bytes divide.
func halves(b state.Batch, sizes []int64) []state.Batch {
	mid := len(b.Docs) / 2
	if len(sizes) == len(b.Docs) {
		var total, acc int64
		for _, s := range sizes {
			total += s
		}
		mid = 1
		for i := 0; i < len(sizes)-1; i++ {
			acc += sizes[i]
			mid = i + 1
			if acc*2 >= total {
				break
			}
		}
	}
	return []state.Batch{sub(b, 0, mid), sub(b, mid, len(b.Docs))}
}

func sub(b state.Batch, i, j int) state.Batch {
	return state.Batch{ParserID: b.ParserID, Docs: slices.Clone(b.Docs[i:j]), Paths: slices.Clone(b.Paths[i:j]),
		Names: slices.Clone(b.Names[i:j]), Created: time.Now()}
}

// split isolates the file(s) the API refuses: halves are submitted as new
// batches (new content, new key) until a single bad file remains, which
// fails. bySize halves by bytes instead of by count (a 413).
func (u *Uploader) split(ctx context.Context, b state.Batch, cause error, bySize bool) {
	if b = u.pending(b); len(b.Docs) == 0 {
		if err := u.st.Update(func(tx *state.Tx) error { return tx.DeleteBatch(b.Key) }); err != nil {
			u.log.Error("cannot record the end of a submission; it is sent again at the next start", "error", err)
		}
		return
	}
	if len(b.Docs) == 1 && !bySize && nameRefused(cause) && b.Names[0] != fallbackName(b.Paths[0]) {
		u.resendAs(ctx, b, fallbackName(b.Paths[0]), cause)
		return
	}
	if len(b.Docs) == 1 {
		if bySize {
			cause = fmt.Errorf("this file alone (%d bytes) is larger than the API, or a proxy in front of it, accepts in one request, "+
				"so it cannot be sent: have the proxy's request size limit raised, or make the PDF smaller (fewer pages, a lower scan resolution), "+
				"then run 'ppsync retry' on it: %w", b.Bytes, cause)
		}
		u.failBatch(ctx, b, cause)
		return
	}
	if !bySize {
		u.log.Warn("the API refused a batch because of a file in it; splitting it to find that file", "files", len(b.Docs), "error", cause)
	}
	var hs []state.Batch
	err := u.st.Update(func(tx *state.Tx) error {
		if err := tx.DeleteBatch(b.Key); err != nil {
			return err
		}
		var sizes []int64
		if bySize {
			for _, k := range b.Docs {
				d, _, err := tx.Doc(k)
				if err != nil {
					return err
				}
				sizes = append(sizes, d.Size)
			}
		}
		hs = halves(b, sizes)
		for i := range hs {
			var shas []string
			for _, k := range hs[i].Docs {
				d, _, err := tx.Doc(k)
				if err != nil {
					return err
				}
				shas = append(shas, d.KeyPart())
				hs[i].Pages += d.Pages
				hs[i].Bytes += d.Size
			}
			hs[i].Key = IdempotencyKey(b.ParserID, shas)
			for _, k := range hs[i].Docs {
				d, _, _ := tx.Doc(k)
				d.Batch = hs[i].Key
				if err := tx.AmendDoc(d); err != nil {
					return err
				}
			}
			if err := tx.PutBatch(hs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		u.log.Error("cannot record the split batches; they are retried at the next start", "error", err)
		return
	}
	for _, h := range hs {
		u.mu.Lock()
		u.sending++
		u.credits.reserve(h.Pages)
		u.intents = append(u.intents, h)
		u.mu.Unlock()
		u.send(ctx, h)
	}
}

// failBatch fails every document of b with the API's error.
func (u *Uploader) failBatch(ctx context.Context, b state.Batch, cause error) {
	code, msg := "SUBMISSION_REFUSED", cause.Error()
	var ae *api.Error
	if errors.As(cause, &ae) && ae.Code != "" {
		code = ae.Code
	}
	if api.IsParserProblem(cause) {
		msg += ". Fix parser_id for this inbox in the config, then run 'ppsync retry --failed'"
	}
	b = u.pending(b)
	if err := u.st.Update(func(tx *state.Tx) error { return tx.DeleteBatch(b.Key) }); err != nil {
		u.log.Error("cannot record refused documents; the batch is sent again at the next start", "error", err)
		return
	}
	if len(b.Docs) == 0 {
		return
	}
	u.log.Error("the API refused files; see their error files", "files", len(b.Docs), "code", code, "error", cause)
	if err := u.o.Finisher.Failed(ctx, b.Docs, code, msg); err != nil {
		u.log.Error("cannot record refused documents", "error", err)
	}
}

// inIntent reports that d still waits on intent b: it was not recorded as
// submitted from it before a restart (recordSubmitted records an answer in
// parts), nor moved to another batch.
func inIntent(d state.Doc, b state.Batch) bool {
	return d.State == state.DocBatched && d.Batch == b.Key
}

// pending returns b with only the documents that still wait on it (and
// their pages and bytes). When
// the state cannot be read, b is returned whole.
func (u *Uploader) pending(b state.Batch) state.Batch {
	out := b
	out.Docs, out.Paths, out.Names, out.Pages, out.Bytes = nil, nil, nil, 0, 0
	err := u.st.View(func(tx *state.Tx) error {
		for i, k := range b.Docs {
			d, ok, err := tx.Doc(k)
			if err != nil {
				return err
			}
			if ok && inIntent(d, b) {
				out.Docs = append(out.Docs, k)
				out.Paths = append(out.Paths, b.Paths[i])
				out.Names = append(out.Names, b.Names[i])
				out.Pages += d.Pages
				out.Bytes += d.Size
			}
		}
		return nil
	})
	if err != nil {
		return b
	}
	return out
}

// nameRefused reports a refusal of a lone file that blames its name: an
// INVALID_PAYLOAD that refuses a file name (a message that merely names
// the file, "File "c.pdf" is larger than...", blames something else).
func nameRefused(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Code == apitypes.CodeInvalidPayload && refusesAName(ae.Message)
}

// fallbackName is the plainest upload name a file can have, for an API
// that refused the one it was sent under: "document~" and a hash of its
// path, with its extension when that is plain letters and digits.
func fallbackName(path string) string {
	sum := sha256.Sum256([]byte(path))
	ext := filepath.Ext(path)
	for _, c := range []byte(strings.TrimPrefix(ext, ".")) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			ext = ""
			break
		}
	}
	return "document~" + hex.EncodeToString(sum[:4]) + strings.ToLower(ext)
}

// resendAs sends the lone document of b again under another upload name,
// as a new batch under the next key generation (an API that caches error
// answers under the key would replay the refusal).
func (u *Uploader) resendAs(ctx context.Context, b state.Batch, name string, cause error) {
	u.log.Warn("the API refused a file's upload name; sending it again under a plain name (its result keeps the real name)",
		"file", b.Paths[0], "sent_as", b.Names[0], "now_as", name, "error", cause)
	nb := sub(b, 0, 1)
	nb.Names[0] = name
	err := u.st.Update(func(tx *state.Tx) error {
		if err := tx.DeleteBatch(b.Key); err != nil {
			return err
		}
		d, ok, err := tx.Doc(b.Docs[0])
		if err != nil || !ok {
			return cmp.Or(err, errNothingQueued)
		}
		d.KeyGen++
		nb.Key = IdempotencyKey(b.ParserID, []string{d.KeyPart()})
		nb.Pages, nb.Bytes = d.Pages, d.Size
		d.Batch, d.Updated = nb.Key, time.Now()
		if err := tx.AmendDoc(d); err != nil {
			return err
		}
		return tx.PutBatch(nb)
	})
	if err != nil {
		u.log.Error("cannot record the file's new upload name; it is sent again at the next start", "file", b.Paths[0], "error", err)
		return
	}
	u.mu.Lock()
	u.sending++
	u.credits.reserve(nb.Pages)
	u.intents = append(u.intents, nb)
	u.mu.Unlock()
	u.send(ctx, nb)
}
