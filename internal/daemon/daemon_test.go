package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
)

const key = "pp_test_e2e_key_0123456789"

type env struct {
	t     *testing.T
	emu   *emulator.Emulator
	srv   *httptest.Server
	root  string
	inbox string
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, o emulator.Options) *env {
	t.Helper()
	o.APIKeys = []string{key}
	if o.ProcessingTime == 0 {
		o.ProcessingTime = 5 * time.Millisecond
	}
	o.RateWindow = time.Second
	o.TempDir = t.TempDir()
	emu := emulator.New(o)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, emu: emu, srv: srv, root: root, inbox: inbox, logs: &syncBuffer{}}
}

// config builds a fast config; extra is appended inside the first [[inbox]]
// (or after it when it starts with a table header).
func (e *env) config(extra string) *config.Config {
	return e.configWith("", extra)
}

// configWith adds tables (before the inbox) to the fast config.
func (e *env) configWith(tables, extra string) *config.Config {
	e.t.Helper()
	text := fmt.Sprintf(`
[api]
base_url = %q
api_key = %q
rate_window = "1s"
[state]
path = "state/ppsync.db"
[upload]
batch_window = "100ms"
credit_recheck = "200ms"
[poll]
interval = "100ms"
[log]
level = "debug"
[admin]
listen = "off"
%s
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
settle = "150ms"
incomplete_after = "2s"
rescan_interval = "300ms"
%s
`, e.srv.URL, key, tables, extra)
	cfg, err := config.Parse(filepath.Join(e.root, "ppsync.toml"), []byte(text))
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

func (e *env) options(cfg *config.Config, once bool) daemon.Options {
	return daemon.Options{Config: cfg, APIKey: key, Once: once,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// start runs the daemon in the background; the returned stop waits for it.
func (e *env) start(cfg *config.Config) (stop func() daemon.Summary) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan daemon.Summary, 1)
	ready := make(chan struct{})
	o := e.options(cfg, false)
	o.Ready = ready
	go func() {
		s, err := daemon.Run(ctx, o)
		if err != nil {
			e.t.Errorf("daemon: %v", err)
		}
		done <- s
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		e.t.Fatal("daemon did not start")
	}
	return func() daemon.Summary {
		cancel()
		select {
		case s := <-done:
			return s
		case <-time.After(20 * time.Second):
			e.t.Fatal("daemon did not stop")
			return daemon.Summary{}
		}
	}
}

func (e *env) once(cfg *config.Config) (daemon.Summary, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return daemon.Run(ctx, e.options(cfg, true))
}

func pdf(t *testing.T, n, pages int, extra ...string) []byte {
	t.Helper()
	inv := samples.Generate(7, n, pages)
	inv.Extra = extra
	b, err := inv.PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readResult(t *testing.T, file string) results.Result {
	t.Helper()
	b, err := os.ReadFile(results.ResultPath(file))
	if err != nil {
		t.Fatal(err)
	}
	var r results.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", results.ResultPath(file), err)
	}
	return r
}

func readError(t *testing.T, file string) results.ErrorFile {
	t.Helper()
	b, err := os.ReadFile(results.ErrorPath(file))
	if err != nil {
		t.Fatal(err)
	}
	var r results.ErrorFile
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", results.ErrorPath(file), err)
	}
	return r
}

// waitFor polls until cond holds or the deadline passes.
func (e *env) waitFor(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s\nlogs:\n%s", what, tail(e.logs.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func invoiceNumber(t *testing.T, r results.Result) string {
	t.Helper()
	var d struct {
		Data struct {
			InvoiceNumber string `json:"invoice_number"`
		} `json:"extracted_data"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(r.Document, &d); err != nil {
		t.Fatal(err)
	}
	return d.Data.InvoiceNumber
}

func noTempFiles(t *testing.T, root string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".ppsync-") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

func TestFilesAtStartDroppedLaterSubfoldersAndSlowCopies(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config(`recursive = true`)
	atStart := filepath.Join(e.inbox, "at start.pdf")
	write(t, atStart, pdf(t, 1, 2))
	stop := e.start(cfg)

	later := filepath.Join(e.inbox, "dropped-later.pdf")
	write(t, later, pdf(t, 2, 1))
	nested := filepath.Join(e.inbox, "2026", "März", "nested 📄.pdf")
	write(t, nested, pdf(t, 3, 1))

	// A slow copy: the file grows over more than the settle time.
	slow := filepath.Join(e.inbox, "slow-scan.pdf")
	full := pdf(t, 4, 3)
	f, err := os.Create(slow)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(full); i += len(full) / 8 {
		_, _ = f.Write(full[i:min(i+len(full)/8, len(full))])
		_ = f.Sync()
		time.Sleep(100 * time.Millisecond)
	}
	f.Close()

	files := map[string]int{atStart: 1, later: 2, nested: 3, slow: 4}
	e.waitFor("every result", 30*time.Second, func() bool {
		for p := range files {
			if !exists(results.ResultPath(p)) {
				return false
			}
		}
		return true
	})
	sum := stop()
	for p, n := range files {
		r := readResult(t, p)
		if want := fmt.Sprintf("INV-2026-%05d", n); invoiceNumber(t, r) != want {
			t.Errorf("%s: invoice %q, want %q", p, invoiceNumber(t, r), want)
		}
		if r.Source.Path != p || len(r.Source.SHA256) != 64 || r.Source.Size == 0 {
			t.Errorf("%s: source = %+v", p, r.Source)
		}
	}
	st := e.emu.Stats()
	if st.DocumentsCreated != 4 || st.PagesCharged != 7 {
		t.Errorf("documents_created=%d pages_charged=%d, want 4 and 7 (nothing half-uploaded, nothing twice)", st.DocumentsCreated, st.PagesCharged)
	}
	if sum.Done != 4 || !sum.OK() {
		t.Errorf("summary = %+v", sum)
	}
	noTempFiles(t, e.root)
}

func TestBadFilesGetErrorFilesWithoutAPICalls(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	good := filepath.Join(e.inbox, "good.pdf")
	write(t, good, pdf(t, 1, 1))
	bad := map[string][]byte{
		"empty.pdf":     {},
		"truncated.pdf": pdf(t, 2, 2)[:900],
		"notes.pdf":     []byte("this is a text file with a .pdf name\n"),
		"fake-eof.pdf":  []byte("%PDF-1.7\n1 0 obj garbage\n%%EOF\n"),
	}
	for name, b := range bad {
		write(t, filepath.Join(e.inbox, name), b)
	}
	write(t, filepath.Join(e.inbox, "readme.txt"), []byte("not matched by include"))
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"empty.pdf": "INCOMPLETE_FILE", "truncated.pdf": "INCOMPLETE_FILE", "notes.pdf": "NOT_A_PDF", "fake-eof.pdf": "PAGE_COUNT_FAILED"}
	for name, code := range want {
		ef := readError(t, filepath.Join(e.inbox, name))
		if ef.Error.Code != code || ef.Error.Message == "" {
			t.Errorf("%s: error %+v, want code %s", name, ef.Error, code)
		}
	}
	if !exists(results.ResultPath(good)) {
		t.Error("the good file got no result next to the bad ones")
	}
	if exists(filepath.Join(e.inbox, "readme.txt.json")) || exists(filepath.Join(e.inbox, "readme.txt.error.json")) {
		t.Error("a file outside the include pattern was touched")
	}
	st := e.emu.Stats()
	if st.Requests["POST /v1/extractions"] != 1 || st.DocumentsCreated != 1 {
		t.Errorf("stats = %+v: bad files must cost no API call", st)
	}
	if sum.Invalid != 4 || sum.Done != 1 || sum.OK() {
		t.Errorf("summary = %+v", sum)
	}
}

func TestSameContentTwiceIsChargedOnce(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	b := pdf(t, 1, 3)
	a, c := filepath.Join(e.inbox, "a.pdf"), filepath.Join(e.inbox, "copy of a.PDF")
	write(t, a, b)
	write(t, c, b)
	if _, err := e.once(cfg); err != nil {
		t.Fatal(err)
	}
	ra, rc := readResult(t, a), readResult(t, c)
	if invoiceNumber(t, ra) != invoiceNumber(t, rc) || ra.Source.SHA256 != rc.Source.SHA256 {
		t.Errorf("results differ: %+v / %+v", ra, rc)
	}
	if (ra.DuplicateOf == "") == (rc.DuplicateOf == "") {
		t.Errorf("exactly one result should name the other as its source: %q / %q", ra.DuplicateOf, rc.DuplicateOf)
	}
	// Dropped again later under a third name, after the first run finished.
	write(t, filepath.Join(e.inbox, "again.pdf"), b)
	if _, err := e.once(cfg); err != nil {
		t.Fatal(err)
	}
	if !exists(results.ResultPath(filepath.Join(e.inbox, "again.pdf"))) {
		t.Error("third copy got no result")
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 1 || st.PagesCharged != 3 {
		t.Errorf("charged more than once: %+v", st)
	}
	// Re-running on a finished inbox makes no submission.
	before := e.emu.Stats().Requests["POST /v1/extractions"]
	if _, err := e.once(cfg); err != nil {
		t.Fatal(err)
	}
	if after := e.emu.Stats().Requests["POST /v1/extractions"]; after != before {
		t.Errorf("re-run submitted %d times", after-before)
	}
}

// cutTransport simulates the process dying around a submission: the
// request is either never sent or sent and its answer lost; either way the
// run is cancelled at that moment.
type cutTransport struct {
	mode   string // "before" or "after"
	cancel context.CancelFunc
	fired  atomic.Bool
}

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/extractions") && c.fired.CompareAndSwap(false, true) {
		if c.mode == "after" {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		} else if r.Body != nil {
			r.Body.Close()
		}
		c.cancel()
		return nil, errors.New("simulated crash")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestCrashAroundSubmissionNeverChargesTwice(t *testing.T) {
	for _, mode := range []string{"before", "after"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, emulator.Options{})
			cfg := e.config("")
			var files []string
			for i := range 5 {
				p := filepath.Join(e.inbox, fmt.Sprintf("inv-%d.pdf", i))
				write(t, p, pdf(t, i, 1+i%2))
				files = append(files, p)
			}
			ctx, cancel := context.WithCancel(context.Background())
			o := e.options(cfg, true)
			o.Transport = &cutTransport{mode: mode, cancel: cancel}
			_, _ = daemon.Run(ctx, o) // "crashes" during the submission
			for _, p := range files {
				if exists(results.ResultPath(p)) {
					t.Fatalf("%s has a result before the restart", p)
				}
			}
			charged := e.emu.Stats().DocumentsCreated
			if mode == "after" && charged != 5 || mode == "before" && charged != 0 {
				t.Fatalf("before restart documents_created = %d", charged)
			}
			sum, err := e.once(cfg) // restart
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range files {
				if !exists(results.ResultPath(p)) {
					t.Errorf("%s: no result after restart", p)
				}
			}
			st := e.emu.Stats()
			if st.DocumentsCreated != 5 || st.PagesCharged != 7 {
				t.Errorf("documents_created=%d pages_charged=%d, want 5 and 7", st.DocumentsCreated, st.PagesCharged)
			}
			if mode == "after" && st.IdempotentReplays != 1 {
				t.Errorf("idempotent_replays = %d, want the interrupted batch replayed once", st.IdempotentReplays)
			}
			if sum.Done != 5 {
				t.Errorf("summary = %+v", sum)
			}
		})
	}
}

func TestCreditsRunOutThenTopUpResumes(t *testing.T) {
	e := newEnv(t, emulator.Options{Credits: 3})
	cfg := e.config("")
	stop := e.start(cfg)
	var files []string
	for i := range 6 {
		p := filepath.Join(e.inbox, fmt.Sprintf("inv-%d.pdf", i))
		write(t, p, pdf(t, i, 1))
		files = append(files, p)
	}
	count := func() int {
		n := 0
		for _, p := range files {
			if exists(results.ResultPath(p)) {
				n++
			}
		}
		return n
	}
	e.waitFor("three results with three credits", 20*time.Second, func() bool { return count() == 3 })
	e.waitFor("the wait to be logged", 5*time.Second, func() bool { return strings.Contains(e.logs.String(), "not enough credits") })
	time.Sleep(300 * time.Millisecond)
	if count() != 3 {
		t.Fatalf("%d results with 3 credits", count())
	}
	e.emu.SetCredits(100)
	e.waitFor("the rest after a top-up", 20*time.Second, func() bool { return count() == 6 })
	stop()
	if st := e.emu.Stats(); st.DocumentsCreated != 6 || st.PagesCharged != 6 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultStormLosesNothing(t *testing.T) {
	e := newEnv(t, emulator.Options{FailRate: 0.3, CutRate: 0.5, Seed: 11})
	cfg := e.config("")
	var files []string
	for i := range 12 {
		p := filepath.Join(e.inbox, fmt.Sprintf("inv-%02d.pdf", i))
		write(t, p, pdf(t, i, 1))
		files = append(files, p)
	}
	// One file per submission: twelve chances for a cut connection.
	cfg.Upload.MaxBatchFiles = 1
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		if !exists(results.ResultPath(p)) {
			t.Errorf("%s: no result", p)
		}
	}
	st := e.emu.Stats()
	if st.DocumentsCreated != 12 || st.PagesCharged != 12 {
		t.Errorf("documents_created=%d pages_charged=%d, want 12 (charged once each)", st.DocumentsCreated, st.PagesCharged)
	}
	if inj := e.emu.Injected(); inj.Failed == 0 || inj.Cut == 0 {
		t.Errorf("faults injected: %+v, want 500s and cut connections", inj)
	}
	if sum.Done != 12 {
		t.Errorf("summary = %+v", sum)
	}
}

func TestChangedFileIsProcessedAgainDeletedFileIsReported(t *testing.T) {
	e := newEnv(t, emulator.Options{Credits: 1})
	cfg := e.config("")
	stop := e.start(cfg)
	p := filepath.Join(e.inbox, "changing.pdf")
	write(t, p, pdf(t, 1, 1))
	e.waitFor("first result", 20*time.Second, func() bool { return exists(results.ResultPath(p)) })
	if got := invoiceNumber(t, readResult(t, p)); got != "INV-2026-00001" {
		t.Fatalf("first result %s", got)
	}
	// No credits left: the next file waits, then is deleted before it is sent.
	q := filepath.Join(e.inbox, "deleted.pdf")
	write(t, q, pdf(t, 3, 1))
	e.waitFor("the wait for credits", 10*time.Second, func() bool { return strings.Contains(e.logs.String(), "not enough credits") })
	if err := os.Remove(q); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the deletion to be noticed", 10*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "deleted before its result arrived")
	})
	// The first file changes: a new life, a new result.
	e.emu.SetCredits(10)
	write(t, p, pdf(t, 2, 1))
	e.waitFor("second result", 20*time.Second, func() bool {
		b, err := os.ReadFile(results.ResultPath(p))
		return err == nil && bytes.Contains(b, []byte("INV-2026-00002"))
	})
	sum := stop()
	if st := e.emu.Stats(); st.DocumentsCreated != 2 {
		t.Errorf("documents_created = %d, want 2 (the deleted file never sent)", st.DocumentsCreated)
	}
	if sum.Done != 1 || sum.Gone != 1 {
		t.Errorf("summary = %+v", sum)
	}
}

func TestTwoInboxesUnicodeNamesAndMove(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	// A second configured parser.
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/parsers", strings.NewReader(`{"name":"Receipts","fields":[{"name":"invoice_number"}]}`))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Parser struct {
			ParserID string `json:"parser_id"`
		} `json:"parser"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	second := filepath.Join(e.root, "receipts")
	if err := os.Mkdir(second, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(fmt.Sprintf(`after = "move"
processed_dir = "done"
failed_dir = "failed"
[[inbox]]
path = "receipts"
parser_id = %q
settle = "150ms"
`, created.Parser.ParserID))
	b := pdf(t, 1, 1)
	one := filepath.Join(e.inbox, "Rechnung Müller & Söhne – März.pdf")
	two := filepath.Join(second, "レシート 2026.pdf")
	write(t, one, b)
	write(t, two, b) // same content, other parser: a different document
	write(t, filepath.Join(e.inbox, "broken.pdf"), []byte("nope"))
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(e.root, "done", filepath.Base(one))
	if !exists(moved) || !exists(results.ResultPath(moved)) || exists(one) {
		t.Errorf("after = move: %s and its result should be in done/", one)
	}
	if !exists(filepath.Join(e.root, "failed", "broken.pdf.error.json")) {
		t.Error("refused file not moved to failed/")
	}
	if !exists(results.ResultPath(two)) {
		t.Errorf("%s: no result", two)
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 2 {
		t.Errorf("documents_created = %d, want 2 (one per parser)", st.DocumentsCreated)
	}
	// Moved files leave the inboxes' records; the receipt stays and is done.
	if sum.Done != 1 || sum.Invalid != 0 || sum.Waiting != 0 {
		t.Errorf("summary = %+v", sum)
	}
}

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
	for _, p := range files {
		if !exists(results.ResultPath(p)) {
			t.Errorf("%s: no result", p)
		}
	}
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

// Thousands of tiny files at once, and a name at the file-system limit.
func TestThousandsOfFilesAndLongNames(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: 2,000 files")
	}
	e := newEnv(t, emulator.Options{Workers: 64, Credits: 5000})
	cfg := e.config(`recursive = true`)
	cfg.Upload.BatchWindow = config.D(2 * time.Second) // the default: hashing 50 files takes longer than the tests' 100 ms
	const n = 2000
	base := pdf(t, 1, 1)
	for i := range n {
		// Distinct content: a trailing comment after %%EOF changes the hash only.
		b := append(append([]byte{}, base...), []byte(fmt.Sprintf("%% %d\n", i))...)
		write(t, filepath.Join(e.inbox, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("tiny-%04d.pdf", i)), b)
	}
	long := filepath.Join(e.inbox, strings.Repeat("Rechnung-lang-", 17)+"ende.pdf") // 246 bytes
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
	// 41 full batches would do; a flood must not leak into many partial ones.
	if subs := st.Requests["POST /v1/extractions"]; subs > (n+1)/50*5/4 {
		t.Errorf("%d submissions for %d files: batches not filled", subs, n+1)
	}
}
