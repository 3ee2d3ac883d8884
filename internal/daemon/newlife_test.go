package daemon_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

// sameSizePDFs returns two different invoices of the same size.
func sameSizePDFs(t *testing.T) (a, b []byte) {
	t.Helper()
	bySize := map[int][]byte{}
	for n := 1; n < 200; n++ {
		p := pdf(t, n, 1)
		if q, ok := bySize[len(p)]; ok && !bytes.Equal(p, q) {
			return q, p
		}
		bySize[len(p)] = p
	}
	t.Fatal("no two invoices of the same size")
	return nil, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// replace gives p the content b and puts its old mtime back, in one of
// the ways a file gets new content with the same size and mtime.
func replace(t *testing.T, how, p string, b []byte) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	switch how {
	case "in place":
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
			t.Fatal(err)
		}
	case "rename over":
		tmp := filepath.Join(filepath.Dir(filepath.Dir(p)), "incoming.tmp") // same filesystem, outside the inbox
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	if now, err := os.Stat(p); err != nil || now.Size() != st.Size() || !now.ModTime().Equal(st.ModTime()) {
		t.Fatalf("the replacement changed size or mtime: %v", err)
	}
}

// A file given new content with the same size and mtime (overwritten in
// place, renamed over, or replaced while ppsync was stopped) starts a new
// life: it gets the new content's result, not the old one's.
func TestNewContentWithSameSizeAndMtimeGetsANewResult(t *testing.T) {
	first, second := sameSizePDFs(t)
	resultSHA := func(p string) string {
		b, err := os.ReadFile(results.ResultPath(p))
		if err != nil {
			return ""
		}
		var r results.Result
		_ = json.Unmarshal(b, &r)
		return r.Source.SHA256
	}
	for _, how := range []string{"in place", "rename over"} {
		t.Run(how+" while running", func(t *testing.T) {
			e := newEnv(t, emulator.Options{})
			stop := e.start(e.config(""))
			defer stop()
			p := filepath.Join(e.inbox, "a.pdf")
			write(t, p, first)
			e.waitFor("the first result", 30*time.Second, func() bool { return resultSHA(p) == sha(first) })
			replace(t, how, p, second)
			e.waitFor("the new content's result", 30*time.Second, func() bool { return resultSHA(p) == sha(second) })
			if n := e.emu.Stats().DocumentsCreated; n != 2 {
				t.Errorf("documents created: %d, want 2", n)
			}
		})
	}
	for _, how := range []string{"in place", "rename over"} {
		t.Run(how+" while stopped", func(t *testing.T) {
			e := newEnv(t, emulator.Options{})
			cfg := e.config("")
			p := filepath.Join(e.inbox, "a.pdf")
			write(t, p, first)
			if _, err := e.once(cfg); err != nil || resultSHA(p) != sha(first) {
				t.Fatalf("first run: %v, result of %q", err, resultSHA(p))
			}
			replace(t, how, p, second)
			if _, err := e.once(cfg); err != nil {
				t.Fatal(err)
			}
			if got := resultSHA(p); got != sha(second) {
				t.Errorf("after the restart the result is of %q, want the new content %q", got, sha(second))
			}
		})
	}
}
