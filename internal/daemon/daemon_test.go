package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
)

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
			wantResults(t, files, " after restart")
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
	wantResults(t, files, "")
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
	// Moved files count as what they ended as: the moved invoice and the
	// receipt done, the moved broken file refused.
	if sum.Done != 2 || sum.Invalid != 1 || sum.Waiting != 0 {
		t.Errorf("summary = %+v, want 2 done and 1 refused", sum)
	}
	rep := statusOf(t, cfg)
	if got := rep.Inboxes[0].Files[report.Done]; got != 1 {
		t.Errorf("status counts %d done in the moving inbox, want 1", got)
	}
}
