//go:build windows

package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// countingHandler counts error records and keeps their text.
type countingHandler struct {
	mu     sync.Mutex
	errors []string
	infos  []string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	if r.Level >= slog.LevelError {
		h.errors = append(h.errors, msg)
	} else {
		h.infos = append(h.infos, msg)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) counts() (int, []string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.errors), append([]string(nil), h.errors...), append([]string(nil), h.infos...)
}

// A spreadsheet program holding the ledger open without sharing (Excel
// does): the write fails, is logged once, retried, the old ledger stays
// whole, and the new one is written once the file is closed.
func TestLedgerHeldOpenWithoutSharing(t *testing.T) {
	dir, err := os.MkdirTemp("", "ppsync-ledger-") // not t.TempDir: see test/windows
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "invoices.csv")
	logs := &countingHandler{}
	l, err := New(Options{Path: path, InboxRoot: dir, Fields: []string{"vendor"}, Delay: 20 * time.Millisecond, Log: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	l.failedRetry = 100 * time.Millisecond
	row := func(name, vendor string) Row {
		return Row{Source: filepath.Join(dir, name), DocumentID: "doc_" + name, Pages: 1, Credits: 1, When: time.Now(),
			Data: json.RawMessage(`{"vendor":"` + vendor + `"}`)}
	}
	l.Put(row("a.pdf", "Acme"))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(old, []byte("Acme")) {
		t.Fatalf("first ledger: %q, %v", old, err)
	}

	p, _ := windows.UTF16PtrFromString(path)
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatalf("open %s without sharing: %v", path, err)
	}
	var attempts atomic.Int32
	var seenBeforeNew atomic.Value
	released := make(chan struct{})
	l.SetBeforeRename(func() error {
		attempts.Add(1)
		select {
		case <-released:
			// The last moment of the old ledger: it must be whole.
			b, err := os.ReadFile(path)
			if err != nil {
				seenBeforeNew.Store("read: " + err.Error())
			} else {
				seenBeforeNew.Store(string(b))
			}
		default:
		}
		return nil
	})
	l.Put(row("b.pdf", "Globex"))
	deadline := time.Now().Add(30 * time.Second)
	for attempts.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d write attempts while the ledger was held", attempts.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	n, errs, _ := logs.counts()
	if n != 1 {
		t.Errorf("%d error lines for %d failed writes, want 1: %q", n, attempts.Load(), errs)
	} else if !strings.Contains(errs[0], path) || !strings.Contains(errs[0], "retrying") {
		t.Errorf("error line %q does not name the ledger and the retry", errs[0])
	}
	close(released)
	if err := windows.CloseHandle(h); err != nil {
		t.Fatal(err)
	}
	for {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte("Globex")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ledger was not written after the file was closed: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, _ := seenBeforeNew.Load().(string); got != string(old) {
		t.Errorf("the ledger before the new one was %q, want the old one %q", got, old)
	}
	_, _, infos := logs.counts()
	if !strings.Contains(strings.Join(infos, "\n"), "ledger written again") {
		t.Errorf("no recovery line: %q", infos)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(leftovers) != 1 {
		t.Errorf("files beside the ledger: %q (temp files left behind?)", leftovers)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
