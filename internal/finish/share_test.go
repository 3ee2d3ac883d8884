package finish_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/smbtest"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/testlog"
)

// A share's server down while results are due: the outage is logged when
// it starts and when it ends, not once per file and attempt; the results
// are written once the server is back. A 60 s outage with writes retried
// every 5 s is shortened here to about 5 s with retries every 20 ms and a
// back-off from 50 ms to 800 ms: at least as many attempts, so as many
// lines as before would be logged without the grouping.
//
// When the inbox's watcher meets the outage too (Reachable false), it has
// logged it: the result writer's two lines are then debug lines.
func TestShareOutageLogsItsStartAndEnd(t *testing.T) {
	s := smbtest.Start(t)
	for _, watcherSaw := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "watcher saw it"}[watcherSaw], func(t *testing.T) {
			shareOutage(t, s, watcherSaw)
		})
	}
}

func shareOutage(t *testing.T, s *smbtest.Share, watcherSaw bool) {
	st := openStore(t)
	sub := map[bool]string{false: "inbox", true: "seen"}[watcherSaw]
	inbox := filepath.Join(s.Mount, sub)
	if err := os.MkdirAll(filepath.Join(s.Folder, sub), 0o777); err != nil {
		t.Fatal(err)
	}
	var keys, paths, names []string
	for i := range 5 {
		name := fmt.Sprintf("scan%d.pdf", i)
		s.WriteDirect(sub+"/"+name, []byte("%PDF-1.4 x %%EOF"))
		p, k := submitted(t, st, inbox, inbox, name, false)
		keys, paths, names = append(keys, k), append(paths, p), append(names, name)
	}
	logs := &logLines{}
	o := finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox}}, Logger: slog.New(logs),
		RetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 800 * time.Millisecond}
	if watcherSaw {
		// The watcher's check, as the daemon wires it: the inbox listed.
		o.Reachable = func(int) bool { _, err := os.ReadDir(inbox); return err == nil }
	}
	fin := finish.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	s.StopServer()
	for i, k := range keys {
		if err := fin.Done(ctx, k, doc(t, completed(t, names[i]))); err != nil {
			t.Fatal(err)
		}
	}
	runDone := make(chan struct{})
	go func() { defer close(runDone); fin.Run(ctx, 20*time.Millisecond) }()
	defer func() { cancel(); <-runDone }()
	outage := time.Now()
	for time.Since(outage) < 5*time.Second {
		if fin.Idle() {
			t.Fatal("results recorded while the share's server is down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if fin.Unreachable(0) == nil {
		t.Error("the inbox is not marked unreachable during the outage")
	}
	s.StartServer()
	deadline := time.Now().Add(patience.Scale(90 * time.Second))
	for !fin.Idle() {
		if time.Now().After(deadline) {
			t.Fatalf("results still pending 90s after the server came back; log:\n%s", strings.Join(logs.except(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range paths {
		if s := fileState(t, st, p); s != state.FileDone {
			t.Errorf("%s: %s, want done", p, s)
		}
		if _, err := os.Stat(filepath.Join(s.Folder, sub, filepath.Base(p)+".json")); err != nil {
			t.Errorf("result of %s not on the server: %v", p, err)
		}
	}
	lines := logs.except("result written")
	if watcherSaw {
		var told []string
		for _, l := range lines {
			if !strings.HasPrefix(l, "DEBUG ") {
				told = append(told, l)
			}
		}
		if len(told) != 0 {
			t.Errorf("the result writer told an outage the watcher had logged in %d lines above debug level:\n%s", len(told), strings.Join(told, "\n"))
		}
	}
	if len(lines) > 3 || len(lines) < 2 {
		t.Errorf("the outage was logged in %d lines, want its start and its end (at most 3):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"unreachable", "I/O error writing", "again"} {
		if !strings.Contains(all, want) {
			t.Errorf("the outage's lines do not say %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, ".ppsync-") || strings.Contains(all, "grant") {
		t.Errorf("the outage's lines name a temp file or ask for access:\n%s", all)
	}
	if fin.Unreachable(0) != nil {
		t.Errorf("the inbox is still marked unreachable: %v", fin.Unreachable(0))
	}
}

// The cost of a result on a share does not grow with the folder: a
// backlog twice as large takes at most 2.2 times as long to finish (one
// result at a time, the worst case for folder syncs). PPSYNC_TEST_HEAVY=1
// runs 600 against 1,200 files and judges the ratio; the default pair,
// 150 against 300, writes every result through the share and logs it.
func TestShareBacklogCostIsLinear(t *testing.T) {
	small := 150
	if os.Getenv("PPSYNC_TEST_HEAVY") != "" {
		small = 600
	}
	s := smbtest.Start(t)
	took := map[int]time.Duration{}
	// Each size twice, alternating, keeping the faster run: a burst of
	// other work on the machine slows one run, rarely both.
	for round, n := range []int{small, 2 * small, small, 2 * small} {
		st := openStore(t)
		sub := fmt.Sprintf("n%d-%d", n, round)
		inbox := filepath.Join(s.Mount, sub)
		var keys, names []string
		for i := range n {
			name := fmt.Sprintf("scan%05d.pdf", i)
			s.WriteDirect(sub+"/"+name, []byte("%PDF-1.4 x %%EOF"))
			_, k := submitted(t, st, inbox, inbox, name, false)
			keys, names = append(keys, k), append(names, name)
		}
		logs := &testlog.Buffer{}
		fin := finish.New(finish.Options{Store: st, Inboxes: []finish.Inbox{{Path: inbox}}, Logger: slog.New(slog.NewTextHandler(logs, nil)),
			RetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond})
		ctx := context.Background()
		start := time.Now()
		for i, k := range keys {
			if err := fin.Done(ctx, k, doc(t, completed(t, names[i]))); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); took[n] == 0 || d < took[n] {
			took[n] = d
		}
		if !fin.Idle() {
			// A write the share refused for a moment (smbnetfs under load)
			// waits to be written again, as in the daemon: it is, and said.
			t.Logf("%d results: %d write errors on the share, written again:\n%s", n, fin.WriteErrors(), logs.String())
			deadline := time.Now().Add(patience.Scale(20 * time.Second))
			for !fin.Idle() && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				fin.RetryPending(ctx)
			}
			if !fin.Idle() {
				t.Fatalf("%d results: some still pending after retries (write errors %d):\n%s", n, fin.WriteErrors(), logs.String())
			}
		}
		entries, err := os.ReadDir(filepath.Join(s.Folder, sub))
		if err != nil || len(entries) != 2*n {
			t.Fatalf("%d files: %d entries on the server (%v), want %d (files and results)", n, len(entries), err, 2*n)
		}
		t.Logf("%d results on the share: %v (%v per result)", n, took[n].Round(time.Millisecond), (took[n] / time.Duration(n)).Round(time.Microsecond))
	}
	r := float64(took[2*small]) / float64(took[small])
	t.Logf("%d results took %.2f times as long as %d", 2*small, r, small)
	// A ratio of wall times at these sizes is within the noise of other
	// packages' tests running beside this one (2.23 in one CI run, 1.81 in
	// another): the default run logs it, and the folder syncs themselves
	// are counted exactly by TestBatchSyncsEachFolderOnceBeforeRecording.
	// PPSYNC_TEST_HEAVY=1 (600 against 1,200, where a sync per result gives
	// far more than 2.2) judges it, on a machine that is not busy.
	if os.Getenv("PPSYNC_TEST_HEAVY") == "" {
		t.Logf("judged only with PPSYNC_TEST_HEAVY=1 (%s)", patience.Describe())
		return
	}
	if f := patience.Factor(); f > 1.5 {
		t.Logf("not judged under load: %s", patience.Describe())
		return
	}
	if r > 2.2 {
		t.Errorf("%d results took %.2f times as long as %d (%v against %v); want at most 2.2: the cost per result grows with the folder",
			2*small, r, small, took[2*small], took[small])
	}
}
