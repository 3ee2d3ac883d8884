package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/results"
)

func TestFailedDocumentAndUnconfiguredParser(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	ok := filepath.Join(e.inbox, "ok.pdf")
	bad := filepath.Join(e.inbox, "unreadable.pdf")
	write(t, ok, pdf(t, 1, 1))
	write(t, bad, pdf(t, 2, 1, emulator.FailMarker))
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ef := readError(t, bad); ef.Error.Code != "EXTRACTION_FAILED" || !strings.Contains(ef.Error.Message, "could not be read") {
		t.Errorf("error file = %+v", ef)
	}
	if !exists(results.ResultPath(ok)) || sum.Failed != 1 || sum.Done != 1 {
		t.Errorf("summary = %+v", sum)
	}

	e2 := newEnv(t, emulator.Options{})
	cfg2 := e2.config("")
	cfg2.Inboxes[0].ParserID = "prs_unconfigured"
	f := filepath.Join(e2.inbox, "x.pdf")
	write(t, f, pdf(t, 1, 1))
	sum2, err := e2.once(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if ef := readError(t, f); ef.Error.Code != "PARSER_NOT_CONFIGURED" || !strings.Contains(ef.Error.Message, "parser_id") {
		t.Errorf("error file = %+v", ef)
	}
	if sum2.Failed != 1 {
		t.Errorf("summary = %+v", sum2)
	}
}

func TestWrongKeyAndLockedState(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	o := e.options(cfg, true)
	o.APIKey = "pp_live_wrong_key_abcdef"
	_, err := daemon.Run(context.Background(), o)
	if !errors.Is(err, daemon.ErrCannotRun) || !strings.Contains(err.Error(), "api_key") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), o.APIKey) || strings.Contains(e.logs.String(), o.APIKey) {
		t.Fatal("the key leaked")
	}
	stop := e.start(cfg)
	defer stop()
	_, err = e.once(cfg)
	if !errors.Is(err, daemon.ErrCannotRun) || !strings.Contains(err.Error(), "another ppsync is using") {
		t.Fatalf("second instance: %v", err)
	}
}

func TestResultWriteFailureIsRetriedNothingLost(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	p := filepath.Join(e.inbox, "blocked.pdf")
	blocker := filepath.Join(results.ResultPath(p), "x")
	if err := os.MkdirAll(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, p, pdf(t, 1, 1))
	stop := e.start(cfg)
	e.waitFor("the write error to be logged", 20*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "cannot write the result file")
	})
	if err := os.RemoveAll(results.ResultPath(p)); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the result after the folder was cleared", 20*time.Second, func() bool {
		st, err := os.Stat(results.ResultPath(p))
		return err == nil && st.Mode().IsRegular()
	})
	sum := stop()
	if invoiceNumber(t, readResult(t, p)) != "INV-2026-00001" || sum.Done != 1 {
		t.Errorf("summary = %+v", sum)
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 1 {
		t.Errorf("documents_created = %d: a write failure must not resubmit", st.DocumentsCreated)
	}
	noTempFiles(t, e.root)
}

// A file that passes local checks but the API refuses (here: over the
// server's size limit) is isolated by splitting; the others go through.
func TestRefusedBatchIsSplitToIsolateTheBadFile(t *testing.T) {
	small := pdf(t, 1, 1)
	big := pdf(t, 9, 12)
	e := newEnv(t, emulator.Options{MaxFileSize: int64(len(small)+len(big)) / 2})
	cfg := e.config("")
	var files []string
	for i := range 7 {
		p := filepath.Join(e.inbox, fmt.Sprintf("f%d.pdf", i))
		b := pdf(t, i, 1)
		if i == 4 {
			b = big
		}
		write(t, p, b)
		files = append(files, p)
	}
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range files {
		if i == 4 {
			if ef := readError(t, p); ef.Error.Code != "INVALID_PAYLOAD" {
				t.Errorf("bad file error = %+v", ef.Error)
			}
			continue
		}
		if !exists(results.ResultPath(p)) {
			t.Errorf("%s: no result", p)
		}
	}
	st := e.emu.Stats()
	if st.DocumentsCreated != 6 || st.PagesCharged != 6 {
		t.Errorf("stats = %+v", st)
	}
	if st.Requests["POST /v1/extractions"] < 3 {
		t.Errorf("submissions = %d, want the batch split", st.Requests["POST /v1/extractions"])
	}
	if sum.Done != 6 || sum.Failed != 1 {
		t.Errorf("summary = %+v", sum)
	}
}

// A server whose limits are far tighter than the client believes answers
// a storm of 429s: everything still completes, once.
func TestRateLimitStormLosesNothing(t *testing.T) {
	// One submission per window while the client sends up to 20: whatever
	// the window boundaries, most submissions meet a 429 first.
	e := newEnv(t, emulator.Options{RequestsPerWindow: 8, SubmissionsPerWindow: 1})
	cfg := e.config("")
	cfg.Upload.MaxBatchFiles = 2
	var files []string
	for i := range 10 {
		p := filepath.Join(e.inbox, fmt.Sprintf("r%d.pdf", i))
		write(t, p, pdf(t, i, 1))
		files = append(files, p)
	}
	// A proxy that drops the X-RateLimit-* headers leaves the client its
	// configured 20 a window: it overshoots and meets 429s.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := e.options(cfg, true)
	o.Transport = stripRateHeaders{}
	if _, err := daemon.Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	wantResults(t, files, "")
	st := e.emu.Stats()
	if st.RateLimited == 0 {
		t.Error("no 429 was provoked")
	}
	if st.DocumentsCreated != 10 || st.PagesCharged != 10 {
		t.Errorf("documents_created = %d, pages_charged = %d", st.DocumentsCreated, st.PagesCharged)
	}
}

// stripRateHeaders removes X-RateLimit-* from every answer.
type stripRateHeaders struct{}

func (stripRateHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			resp.Header.Del(h)
		}
	}
	return resp, err
}

// Two daemons on one inbox (different state files): the second refuses and
// names the holder; nothing is charged twice.
func TestSecondDaemonOnSameInboxRefuses(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	for i := range 5 {
		write(t, filepath.Join(e.inbox, fmt.Sprintf("s%d.pdf", i)), pdf(t, i, 1))
	}
	stop := e.start(cfg)
	other := *cfg
	other.State.Path = filepath.Join(e.root, "other-state.db")
	_, err := e.once(&other)
	if !errors.Is(err, daemon.ErrCannotRun) || !strings.Contains(err.Error(), "is being processed by ppsync on host") ||
		!strings.Contains(err.Error(), cfg.State.Path) {
		t.Fatalf("second daemon: %v", err)
	}
	e.waitFor("the first daemon's results", 20*time.Second, func() bool {
		for i := range 5 {
			if !exists(results.ResultPath(filepath.Join(e.inbox, fmt.Sprintf("s%d.pdf", i)))) {
				return false
			}
		}
		return true
	})
	stop()
	if st := e.emu.Stats(); st.DocumentsCreated != 5 {
		t.Errorf("documents_created = %d", st.DocumentsCreated)
	}
	// Once the first stopped, its lease is gone and the other may run.
	if _, err := e.once(&other); err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
}

// Malformed JSON answers (after a charge) and answers slower than the
// client's timeout: every file ends with its result, charged once.
func TestGarbledAndSlowAnswersChargeOnce(t *testing.T) {
	e := newEnv(t, emulator.Options{GarbleRate: 0.25, SlowRate: 0.2, SlowDelay: 1500 * time.Millisecond, Seed: 3})
	cfg := e.config("")
	cfg.API.RequestTimeout = config.D(500 * time.Millisecond)
	cfg.Upload.MaxBatchFiles = 3
	var files []string
	for i := range 12 {
		p := filepath.Join(e.inbox, fmt.Sprintf("g%02d.pdf", i))
		write(t, p, pdf(t, i, 2))
		files = append(files, p)
	}
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		if r := readResult(t, p); invoiceNumber(t, r) == "" {
			t.Errorf("%s: empty result", p)
		}
	}
	st := e.emu.Stats()
	if st.DocumentsCreated != 12 || st.PagesCharged != 24 {
		t.Errorf("documents_created=%d pages_charged=%d, want 12 and 24", st.DocumentsCreated, st.PagesCharged)
	}
	if sum.Done != 12 {
		t.Errorf("summary = %+v", sum)
	}
	if inj := e.emu.Injected(); inj.Garbled == 0 || inj.Slow == 0 {
		t.Errorf("faults injected: %+v, want garbled and slow answers", inj)
	}
}

// heavyEnv, set to 1, runs the heavy tests at full size (see docs/testing.md).
const heavyEnv = "PPSYNC_TEST_HEAVY"

// A flood of tiny files at once, and a name at the file-system limit. The
// default run has 400 files (8 full batches), PPSYNC_TEST_HEAVY=1 the full
// 2,000.
func TestThousandsOfFilesAndLongNames(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: hundreds of files")
	}
	n := 400
	if os.Getenv(heavyEnv) == "1" {
		n = 2000
	}
	t.Logf("%d files (%s=1: 2,000)", n, heavyEnv)
	e := newEnv(t, emulator.Options{Workers: 64, Credits: 5000})
	cfg := e.config(`recursive = true`)
	// The default window, stretched with the machine's load: hashing 50
	// files takes longer than the tests' 100 ms, and on a loaded machine
	// longer than 2 s, which would send part-filled batches.
	cfg.Upload.BatchWindow = config.D(patience.Scale(2 * time.Second))
	base := pdf(t, 1, 1)
	for i := range n {
		// Distinct content: a trailing comment after %%EOF changes the hash only.
		b := append(append([]byte{}, base...), []byte(fmt.Sprintf("%% %d\n", i))...)
		write(t, filepath.Join(e.inbox, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("tiny-%04d.pdf", i)), b)
	}
	long := filepath.Join(e.inbox, strings.Repeat("Rechnung-lang-", 16)+"Rechnung-ende.pdf") // 241 bytes: with .error.json, 252
	write(t, long, pdf(t, 2, 1))
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != n+1 || !sum.OK() {
		t.Fatalf("done %d, failed %d, refused %d, waiting %d (of %d)", sum.Done, sum.Failed, sum.Invalid, sum.Waiting, n+1)
	}
	if !exists(results.ResultPath(long)) {
		t.Error("the long name got no result")
	}
	st := e.emu.Stats()
	if st.DocumentsCreated != n+1 || st.RateLimited != 0 {
		t.Errorf("stats = %+v", st)
	}
	// Full batches of 50 would do (41 for 2,001 files); a flood must not
	// leak into many partial ones.
	if subs := st.Requests["POST /v1/extractions"]; subs > (n+1+49)/50*5/4 {
		t.Errorf("%d submissions for %d files: batches not filled", subs, n+1)
	}
}
