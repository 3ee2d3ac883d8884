//go:build linux || darwin

package uploader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// readingAPI reads every upload to its end as the client does, and, as
// the client does, hashes it when the upload names a SHA256 (a second pass
// over the file) and refuses it when the bytes differ. before, when set,
// runs before the nth submission's files are opened; during, before the
// last byte of each is read.
type readingAPI struct {
	mu       sync.Mutex
	calls    int
	hashed   int               // uploads the client would hash again
	accepted map[string]string // upload name -> sha256 of the bytes sent
	types    map[string]string // upload name -> content type sent
	refused  []error
	before   func(n int)
	during   func(n int, name string)
}

func (r *readingAPI) Me(context.Context) (apitypes.User, error) {
	return apitypes.User{CreditsAvailable: 1000}, nil
}

func (r *readingAPI) Submit(_ context.Context, _, _ string, files []api.Upload) (api.Submission, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.before != nil {
		r.before(r.calls)
	}
	sums := make([]string, len(files))
	for i, f := range files {
		rc, err := f.Open()
		if err != nil {
			r.refused = append(r.refused, err)
			return api.Submission{}, &api.SourceError{Name: f.Name, Err: err}
		}
		h := sha256.New()
		_, err = io.CopyN(h, rc, 10)
		if err == nil && r.during != nil {
			r.during(r.calls, f.Name)
		}
		if err == nil {
			_, err = io.Copy(h, rc)
		}
		rc.Close()
		if err != nil {
			r.refused = append(r.refused, err)
			return api.Submission{}, &api.SourceError{Name: f.Name, Err: err}
		}
		sums[i] = hex.EncodeToString(h.Sum(nil))
		if f.SHA256 != "" {
			r.hashed++
			if sums[i] != f.SHA256 {
				return api.Submission{}, &api.FileChangedError{Name: f.Name, Want: f.SHA256, Got: sums[i]}
			}
		}
	}
	var x apitypes.Extraction
	x.ExtractionID = fmt.Sprint("ext_", r.calls)
	for i, f := range files {
		r.accepted[f.Name] = sums[i]
		r.types[f.Name] = f.ContentType
		x.Documents = append(x.Documents, apitypes.Document{DocumentID: "doc_" + f.Name, Filename: f.Name})
	}
	left := 1000
	x.CreditsRemaining = &left
	return api.Submission{Extraction: x}, nil
}

// forgetting records the files the uploader asks the watcher to report
// again, and sends each on changed when that is set.
type forgetting struct {
	fakeFinisher
	mu      sync.Mutex
	forgot  []string
	changed chan string
}

func (f *forgetting) Forget(p string) {
	f.mu.Lock()
	f.forgot = append(f.forgot, p)
	f.mu.Unlock()
	if f.changed != nil {
		f.changed <- p
	}
}

// readyEvent is the watcher's Ready event for the file at p as it is now.
func readyEvent(t *testing.T, p string) watcher.Event {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	ev := watcher.Event{Kind: watcher.Ready, Path: p, Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ev.Identity = watcher.IdentityOf(st.Ino, ctimeOf(st))
	}
	return ev
}

func writePDF(t *testing.T, p string, n int) []byte {
	t.Helper()
	b, err := samples.Generate(11, n, 1).PDF()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

type hashRun struct {
	u      *Uploader
	st     *state.Store
	fa     *readingAPI
	fin    *forgetting
	passes map[string]int // validation passes (each hashes the file once) by path
	mu     sync.Mutex
	events chan watcher.Event
	cancel func()
	done   chan struct{}
}

func startHashRun(t *testing.T, dir string, fa *readingAPI) *hashRun {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &hashRun{st: st, fa: fa, passes: map[string]int{}, events: make(chan watcher.Event, 64), done: make(chan struct{}),
		fin: &forgetting{fakeFinisher: fakeFinisher{failed: map[string]string{}}, changed: make(chan string, 16)}}
	fa.accepted, fa.types = map[string]string{}, map[string]string{}
	r.u = New(Options{Store: st, API: fa, Finisher: r.fin, Tracker: &lockedTracker{},
		Inboxes: []Inbox{{Path: dir, ParserID: "prs"}}, MaxBatchFiles: 50, MaxBatchBytes: 64 << 20, BatchWindow: 20 * time.Millisecond,
		CreditRecheck: 5 * time.Millisecond,
		Inspect: func(p string, o filecheck.Options) (filecheck.Info, error) {
			r.mu.Lock()
			r.passes[p]++
			r.mu.Unlock()
			return filecheck.Inspect(p, o)
		}})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.u.Run(ctx, r.events); close(r.done) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *hashRun) waitAccepted(t *testing.T, names ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.fa.mu.Lock()
		n := 0
		for _, name := range names {
			if _, ok := r.fa.accepted[name]; ok {
				n++
			}
		}
		r.fa.mu.Unlock()
		if n == len(names) {
			return
		}
		if time.Now().After(deadline) {
			r.fa.mu.Lock()
			t.Fatalf("%d of %v accepted by the API (%d calls, refused: %v)", n, names, r.fa.calls, r.fa.refused)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEachFileIsHashedOnce: from validation to the API, each document's
// bytes are hashed in one pass (the client is given no SHA256 to hash them
// again), and what is sent is what was hashed.
func TestEachFileIsHashedOnce(t *testing.T) {
	dir := t.TempDir()
	fa := &readingAPI{}
	r := startHashRun(t, dir, fa)
	want := map[string]string{}
	var names []string
	for i := range 6 {
		p := filepath.Join(dir, fmt.Sprintf("scan-%d.pdf", i))
		want[filepath.Base(p)] = sum(writePDF(t, p, i+1))
		names = append(names, filepath.Base(p))
		r.events <- readyEvent(t, p)
	}
	r.waitAccepted(t, names...)
	r.mu.Lock()
	defer r.mu.Unlock()
	fa.mu.Lock()
	defer fa.mu.Unlock()
	for _, name := range names {
		passes := r.passes[filepath.Join(dir, name)]
		if passes != 1 {
			t.Errorf("%s validated (hashed) %d times, want 1", name, passes)
		}
		if fa.accepted[name] != want[name] {
			t.Errorf("%s: the bytes sent hash to %s, the file to %s", name, fa.accepted[name], want[name])
		}
		// The type validation recognised is sent without opening the
		// file again to sniff it.
		if fa.types[name] != "application/pdf" {
			t.Errorf("%s sent as %q, want application/pdf", name, fa.types[name])
		}
	}
	// With the watcher's identity the file is not opened for a fingerprint.
	if err := r.st.View(func(tx *state.Tx) error {
		for _, name := range names {
			f, _, err := tx.File(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			if f.Identity == "" || f.Fingerprint != "" {
				t.Errorf("%s: identity %q, fingerprint %q; want the identity alone", name, f.Identity, f.Fingerprint)
			}
			d, _, err := tx.Doc(state.DocKey("prs", f.SHA256))
			if err != nil {
				return err
			}
			if d.ContentType != "application/pdf" {
				t.Errorf("%s: document's content type %q", name, d.ContentType)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	total := fa.hashed
	for _, n := range r.passes {
		total += n
	}
	if total != len(names) {
		t.Errorf("%d hash passes for %d documents (%d at validation, %d by the client while sending), want one each",
			total, len(names), total-fa.hashed, fa.hashed)
	}
}

// TestFileChangedAfterHashingIsNotSentUnderItsOldHash: a file rewritten
// after it was hashed, before its upload or while it is read for it, with
// its size and mtime put back, is not sent under the old hash: the
// submission is aborted, the file is reported again, hashed again and
// sent under its new content.
func TestFileChangedAfterHashingIsNotSentUnderItsOldHash(t *testing.T) {
	for _, when := range []string{"before the upload", "while it is sent"} {
		t.Run(when, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "scan.pdf")
			old := writePDF(t, p, 1)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			// Another invoice of the same size.
			var newer []byte
			for n := 2; len(newer) != len(old); n++ {
				if n > 500 {
					t.Fatal("no other invoice of the same size")
				}
				if newer, err = samples.Generate(11, n, 1).PDF(); err != nil {
					t.Fatal(err)
				}
			}
			rewrite := func() {
				if err := os.WriteFile(p, newer, 0o644); err != nil {
					t.Error(err)
				}
				// Size and mtime as they were: only the identity tells.
				if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
					t.Error(err)
				}
			}
			fa := &readingAPI{}
			if when == "before the upload" {
				fa.before = func(n int) {
					if n == 1 {
						rewrite()
					}
				}
			} else {
				fa.during = func(n int, _ string) {
					if n == 1 {
						rewrite()
					}
				}
			}
			r := startHashRun(t, dir, fa)
			r.events <- readyEvent(t, p)
			select {
			case got := <-r.fin.changed:
				if got != p {
					t.Fatalf("reported again: %s, want %s", got, p)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the changed file was not reported again")
			}
			fa.mu.Lock()
			if s, ok := fa.accepted["scan.pdf"]; ok {
				t.Errorf("the changed file was accepted by the API (bytes %s; hashed as %s)", s, sum(old))
			}
			fa.mu.Unlock()
			// The watcher reports it again: it is hashed anew and sent under
			// its new content.
			r.events <- readyEvent(t, p)
			r.waitAccepted(t, "scan.pdf")
			fa.mu.Lock()
			got := fa.accepted["scan.pdf"]
			fa.mu.Unlock()
			if got != sum(newer) {
				t.Errorf("sent bytes hashing to %s, want the new content %s", got, sum(newer))
			}
			var keys []string
			if err := r.st.View(func(tx *state.Tx) error {
				f, ok, err := tx.File(p)
				if err != nil || !ok {
					return fmt.Errorf("no record of %s (%v)", p, err)
				}
				keys = append(keys, f.SHA256)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if keys[0] != sum(newer) {
				t.Errorf("recorded under %s, want the new content's %s", keys[0], sum(newer))
			}
			r.mu.Lock()
			if n := r.passes[p]; n != 2 {
				t.Errorf("validated %d times, want 2 (once per content)", n)
			}
			r.mu.Unlock()
		})
	}
}
