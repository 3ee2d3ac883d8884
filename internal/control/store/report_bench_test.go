package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

// BenchmarkFromState builds (with store.Report) the status of two inboxes,
// as /status, /metrics and the status page do every second: one holding
// 100,000 finished files (one in a hundred failed) and 100 files on their
// way, as a daemon does most of its life, and one in a backlog of 100,000
// files on their way, whose report reads every one with its document.
func BenchmarkFromState(b *testing.B) {
	b.Run("finished=100000/open=100", func(b *testing.B) { benchmarkFromState(b, 100000, 100) })
	b.Run("finished=0/open=100000", func(b *testing.B) { benchmarkFromState(b, 0, 100000) })
}

func benchmarkFromState(b *testing.B, finished, open int) {
	cfg := &config.Config{State: config.State{Path: filepath.Join(b.TempDir(), "s.db")},
		Inboxes: []config.Inbox{{Path: "/a", ParserID: "p"}, {Path: "/b", ParserID: "p"}}}
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for start := 0; start < finished; start += 10000 {
		if err := st.Update(func(tx *state.Tx) error {
			for i := start; i < start+10000; i++ {
				f := state.File{Path: fmt.Sprintf("/%c/f%06d.pdf", "ab"[i%2], i), Inbox: []string{"/a", "/b"}[i%2], ParserID: "p",
					SHA256: fmt.Sprintf("%064x", i), Size: 50000, State: state.FileDone, Result: fmt.Sprintf("/%c/f%06d.pdf.json", "ab"[i%2], i),
					FirstSeen: t0, Updated: t0.Add(time.Duration(i) * time.Second)}
				if i%100 == 0 {
					f.State, f.Code, f.Reason = state.FileFailed, "EXTRACTION_FAILED", "the document could not be read"
				}
				if err := tx.SeedFile(f); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	for start := 0; start < open; start += 10000 {
		if err := st.Update(func(tx *state.Tx) error {
			for i := start; i < min(open, start+10000); i++ {
				sha := fmt.Sprintf("open%060x", i)
				f := state.File{Path: fmt.Sprintf("/a/open%03d.pdf", i), Inbox: "/a", ParserID: "p", SHA256: sha, State: state.FileQueued, FirstSeen: t0, Updated: t0}
				if err := tx.SeedFile(f); err != nil {
					return err
				}
				ds := state.DocSubmitted
				if i%2 == 0 {
					ds = state.DocQueued
				}
				if err := tx.SeedDoc(state.Doc{Key: state.DocKey("p", sha), ParserID: "p", SHA256: sha, State: ds, Files: []string{f.Path}}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	// What one report leaves resident of the state file's mapping, from
	// a process that holds none of it (Linux only); a report before makes
	// the program's own code resident, so it is not counted.
	rss := -1
	if _, err := store.Report(st, cfg, false); err != nil {
		b.Fatal(err)
	}
	if err := st.ReleaseMapped(); err == nil {
		before, ok1 := rssFileKiB()
		if _, err := store.Report(st, cfg, false); err != nil {
			b.Fatal(err)
		}
		if after, ok2 := rssFileKiB(); ok1 && ok2 {
			rss = after - before
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := store.Report(st, cfg, false)
		if err != nil {
			b.Fatal(err)
		}
		if (finished > 0 && r.Inboxes[0].Files[report.Done] == 0) || r.QueueDepth != open/2 {
			b.Fatalf("report counts %v, queue depth %d", r.Inboxes[0].Files, r.QueueDepth)
		}
	}
	if rss >= 0 {
		b.ReportMetric(float64(rss), "RssFile-KiB/report")
	}
}

// rssFileKiB reads the process's resident file-backed memory.
func rssFileKiB() (int, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n, err == nil
		}
	}
	return 0, false
}
