package smbtest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/smbtest"
	"github.com/ppsync/ppsync/internal/testlog"
)

var (
	startxrefRE = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	sizeRE      = regexp.MustCompile(`/Size\s+(\d+)`)
	rootRE      = regexp.MustCompile(`/Root\s+(\d+\s+\d+\s+R)`)
)

// incrementalUpdate returns what a viewer appends to pdf when it saves it
// incrementally (here: a new document information dictionary, as when the
// title is changed): the new object, a cross-reference section for it, a
// trailer whose /Prev points at the previous section, and a new %%EOF.
// pdf must end in a classic trailer (as samples' PDFs and earlier updates
// do).
func incrementalUpdate(t *testing.T, pdf []byte, step int) []byte {
	t.Helper()
	prev := startxrefRE.FindSubmatch(pdf)
	tail := pdf[bytes.LastIndex(pdf, []byte("trailer")):]
	size, root := sizeRE.FindSubmatch(tail), rootRE.FindSubmatch(tail)
	if prev == nil || size == nil || root == nil {
		t.Fatalf("the PDF does not end in a classic trailer (startxref %q, /Size %q, /Root %q)", prev, size, root)
	}
	num, err := strconv.Atoi(string(size[1]))
	if err != nil {
		t.Fatal(err)
	}
	var upd bytes.Buffer
	upd.WriteString("\n")
	obj := len(pdf) + upd.Len()
	fmt.Fprintf(&upd, "%d 0 obj\n<< /Title (Signed, revision %d) /ModDate (D:20260101120000Z) >>\nendobj\n", num, step)
	xref := len(pdf) + upd.Len()
	fmt.Fprintf(&upd, "xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Info %d 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n",
		num, obj, num+1, root[1], num, prev[1], xref)
	return upd.Bytes()
}

// appendTo re-opens p and appends b, as a viewer saving incrementally
// does: read-write (it reads the previous cross-reference section), which
// is also what smbnetfs needs: it fails a write-only open for appending
// with EIO and is unreachable for some 3 s after.
func appendTo(t *testing.T, p string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A PDF saved incrementally on a share, the way a viewer that signs or
// annotates saves it: a complete PDF ending in %%EOF written and closed,
// then, after a pause shorter than settle, re-opened and extended with a
// valid incremental update (a new object, a cross-reference section and a
// trailer with /Prev, a second %%EOF), once or twice. Written by a client
// through the mount and by another machine (the server's side). The daemon
// on an inbox on the share charges one document for it, its result is of
// the final content, and no error file ever appears beside it.
func TestIncrementalSaveOnAShareIsChargedOnce(t *testing.T) {
	const (
		settle = 2 * time.Second
		pause  = 700 * time.Millisecond // shorter than settle
		// The share is listed every 250 ms (rescan_interval bounds the
		// polling pace), so each version is seen and settling before the
		// next is appended: at the default pace (2 s) a listing could
		// fall after the last update and never see the earlier ones.
		rescan = 250 * time.Millisecond
	)
	s := smbtest.Start(t)
	for _, side := range []string{"client", "server"} {
		for _, updates := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s, %d updates", side, updates), func(t *testing.T) {
				sub := fmt.Sprintf("incr-%s-%d", side, updates)
				if err := os.MkdirAll(filepath.Join(s.Folder, sub), 0o777); err != nil {
					t.Fatal(err)
				}
				emu := emulator.New(emulator.Options{APIKeys: []string{apiKey}, ProcessingTime: 50 * time.Millisecond, Credits: 100,
					RateWindow: time.Second, TempDir: t.TempDir()})
				srv := httptest.NewServer(emu)
				t.Cleanup(func() { srv.Close(); emu.Close() })
				cfg := shareConf{API: srv.URL, Inbox: filepath.Join(s.Mount, sub), Settle: settle.String(), Rescan: rescan.String()}.parse(t)
				logs := &testlog.Buffer{}
				defer startDaemon(t, cfg, logs)()

				// Where the writer writes, and where the result is looked for
				// (the server's folder: what every client sees).
				name := "contract.pdf"
				onServer := filepath.Join(s.Folder, sub, name)
				writer := filepath.Join(s.Mount, sub, name)
				if side == "server" {
					writer = onServer
				}
				var errorFile atomic.Bool
				watchDone, watchStopped := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(watchStopped)
					for {
						if _, err := os.Lstat(results.ErrorPath(onServer)); err == nil {
							errorFile.Store(true)
						}
						select {
						case <-watchDone:
							return
						case <-time.After(5 * time.Millisecond):
						}
					}
				}()
				defer func() { close(watchDone); <-watchStopped }()

				final, err := samples.Generate(4242, updates, 2).PDF()
				if err != nil {
					t.Fatal(err)
				}
				if side == "server" {
					s.WriteDirect(sub+"/"+name, final)
				} else if err := os.WriteFile(writer, final, 0o644); err != nil {
					t.Fatal(err)
				}
				for i := 1; i <= updates; i++ {
					time.Sleep(pause) // the viewer re-opens the file it saved
					upd := incrementalUpdate(t, final, i)
					appendTo(t, writer, upd)
					final = append(final, upd...)
				}
				// The saved file is a valid PDF of the final content: the
				// update's cross-reference chain (/Prev) reads.
				check := filepath.Join(t.TempDir(), name)
				if err := os.WriteFile(check, final, 0o600); err != nil {
					t.Fatal(err)
				}
				if info, err := pdfcheck.Inspect(check, pdfcheck.Options{}); err != nil || info.Pages != 2 || info.SHA256 != sha(final) {
					t.Fatalf("the test's incrementally saved PDF reads as %+v (%v), want 2 pages of hash %s: its update is not valid", info, err, sha(final))
				}
				deadline := time.Now().Add(patience.Scale(time.Minute))
				for {
					src, ok := results.ReadResultSource(onServer)
					if ok && src.SHA256 == sha(final) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no result of the final content (%s) after %v (result's source: %+v); log:\n%s",
							sha(final), patience.Scale(time.Minute), src, logs.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
				// A document for an earlier version would have been created
				// before the final one's; a later one would come within
				// settle of the last write: wait that long again.
				time.Sleep(settle + time.Second)
				if n := emu.Stats().DocumentsCreated; n != 1 {
					t.Errorf("%d documents charged for one file saved in %d steps on the share (%s side), want 1; log:\n%s",
						n, updates+1, side, logs.String())
				}
				if got, err := os.ReadFile(onServer); err != nil || !bytes.Equal(got, final) {
					t.Errorf("the server holds %d bytes (%v), want the writer's %d", len(got), err, len(final))
				}
				if errorFile.Load() {
					t.Errorf("an error file appeared beside the file being saved; log:\n%s", logs.String())
				}
			})
		}
	}
}
