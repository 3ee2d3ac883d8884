package smbtest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/smbtest"
)

const apiKey = "pp_test_smb_key_0123456789"

// The whole daemon (--once) on an inbox on a real SMB share, against the
// emulator with a 1 s rate window: every file gets its result through the
// share, and a backlog twice as large takes at most 2.2 times as long
// (PPSYNC_TEST_HEAVY), less than four times by default (see the end). 100
// against 200 files by default; PPSYNC_TEST_HEAVY=1 runs 600 against 1,200
// (the figures that were quadratic: 600 files in 68.5 s, 1,200 not done
// after 283 s). The rescan interval is the default minute: a rescan lists
// and checks the whole folder, so rescans every second over the share add
// a cost per file that grows with the folder (the watcher's, not the
// results').
func TestDaemonBacklogOnAShareIsLinear(t *testing.T) {
	small := 100
	if os.Getenv("PPSYNC_TEST_HEAVY") != "" {
		small = 600
	}
	s := smbtest.Start(t)
	// One page per file: credits for both backlogs (the default 1,000 is too few for the heavy pair).
	emu := emulator.New(emulator.Options{APIKeys: []string{apiKey}, ProcessingTime: 5 * time.Millisecond, Credits: 4 * small,
		RateWindow: time.Second, TempDir: t.TempDir()})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })

	took := map[int]time.Duration{}
	for _, n := range []int{small, 2 * small} {
		sub := fmt.Sprintf("n%d", n)
		for i := range n {
			inv := samples.Generate(uint64(n*100000+i), i, 1)
			b, err := inv.PDF()
			if err != nil {
				t.Fatal(err)
			}
			s.WriteDirect(fmt.Sprintf("%s/scan%05d.pdf", sub, i), b)
		}
		cfg := shareConf{API: srv.URL, Inbox: filepath.Join(s.Mount, sub), Settle: "150ms", Rescan: "1m"}.parse(t)
		var logs strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		start := time.Now()
		sum, err := daemon.Run(ctx, daemon.Options{Config: cfg, APIKey: apiKey, Once: true,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		took[n] = time.Since(start)
		cancel()
		if err != nil || !sum.OK() {
			t.Fatalf("%d files: %v, summary %+v; log:\n%s", n, err, sum, logs.String())
		}
		entries, err := os.ReadDir(filepath.Join(s.Folder, sub))
		if err != nil {
			t.Fatal(err)
		}
		results := 0
		names := map[string]bool{}
		for _, e := range entries {
			names[e.Name()] = true
			if strings.HasSuffix(e.Name(), ".pdf.json") {
				results++
			}
		}
		if results != n {
			var missing, others []string
			for i := range n {
				if name := fmt.Sprintf("scan%05d.pdf", i); !names[name+".json"] {
					missing = append(missing, name)
				}
			}
			for name := range names {
				if !strings.HasSuffix(name, ".pdf") && !strings.HasSuffix(name, ".pdf.json") {
					others = append(others, name)
				}
			}
			t.Fatalf("%d files: %d results on the server; without one: %v; other names: %v; summary %+v; log:\n%s",
				n, results, missing, others, sum, logs.String())
		}
		t.Logf("%d files on the share: %v (%v per file)", n, took[n].Round(time.Millisecond), (took[n] / time.Duration(n)).Round(time.Microsecond))
	}
	// Linear is 2 plus noise: PPSYNC_TEST_HEAVY's pair is held to 2.2
	// (measured 1.99, on a quiet machine; 3.86 before results
	// stopped looking each name up, where a missing name makes Samba scan the
	// folder). The default pair runs 3 to 5 s, where a burst of load beside
	// it moves the ratio more than the cost does (1.45 to 1.75 measured):
	// it is held to less than quadratic (4), which the folder sync per
	// result was.
	// Under load (a patience factor above 1.5, as the finish stage's
	// share test) the heavy pair too is held to 4 only, and says so.
	limit := 4.0
	switch f := patience.Factor(); {
	case small >= 600 && f <= 1.5:
		limit = 2.2
	case small >= 600:
		t.Logf("held to 4, not 2.2, under load: %s", patience.Describe())
	}
	r := float64(took[2*small]) / float64(took[small])
	t.Logf("%d files took %.2f times as long as %d (at most %.1f; %s)", 2*small, r, small, limit, patience.Describe())
	if r > limit {
		t.Errorf("%d files took %.2f times as long as %d (%v against %v), want at most %.1f: the cost per file grows with the folder", 2*small, r, small, took[2*small], took[small], limit)
	}
}
