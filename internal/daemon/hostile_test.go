package daemon_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

// hostileTransport rewrites every filename in API answers to a path that
// climbs out of the inbox: no file can be matched to such a document.
type hostileTransport struct{}

var filenameRe = regexp.MustCompile(`"filename":"[^"]*"`)

func (hostileTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b = filenameRe.ReplaceAll(b, []byte(`"filename":"../../../escaped/evil.pdf"`))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func TestServerFilenamesNeverBecomePaths(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	var files []string
	for i := range 4 {
		p := filepath.Join(e.inbox, "f"+string(rune('a'+i))+".pdf")
		write(t, p, pdf(t, i, 1))
		files = append(files, p)
	}
	o := e.options(cfg, true)
	o.Transport = hostileTransport{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := daemon.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != len(files) {
		t.Errorf("summary %+v: want every file failed (no answer names it)", sum)
	}
	for _, p := range files {
		if exists(results.ResultPath(p)) {
			t.Errorf("%s: a result was matched to a document that does not name it", p)
		}
		ef := readError(t, p)
		if ef.Error.Code != "NOT_IN_ANSWER" || ef.Source.Path != p {
			t.Errorf("%s: error file %+v", p, ef)
		}
	}
	if n := e.emu.Stats().DocumentsCreated; n != len(files) {
		t.Errorf("charged %d documents, want %d (the batch sent again must be answered from the idempotency cache)", n, len(files))
	}
	var stray []string
	_ = filepath.WalkDir(filepath.Dir(e.root), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(p, "escaped") || err == nil && strings.Contains(d.Name(), "evil") {
			stray = append(stray, p)
		}
		return nil
	})
	if len(stray) > 0 {
		t.Fatalf("a server filename became a path: %v", stray)
	}
}

// The API key never appears in a log line (any level) or an error, through
// a refused key, 5xx storms, cut connections and garbled answers.
func TestAPIKeyNeverLogged(t *testing.T) {
	secret := "pp_live_SECRET_ab12cd34ef56"
	e := newEnv(t, emulator.Options{FailRate: 0.3, CutRate: 0.3, GarbleRate: 0.2, Seed: 9})
	e.emu.Close()
	// A server that knows the secret key, with faults.
	emu := emulator.New(emulator.Options{APIKeys: []string{secret}, FailRate: 0.3, CutRate: 0.3, GarbleRate: 0.2, Seed: 9,
		RateWindow: time.Second, ProcessingTime: 5 * time.Millisecond, TempDir: t.TempDir()})
	defer emu.Close()
	e.srv.Config.Handler = emu
	cfg := e.config("")
	for i := range 6 {
		write(t, filepath.Join(e.inbox, "k"+string(rune('a'+i))+".pdf"), pdf(t, i, 1))
	}
	write(t, filepath.Join(e.inbox, "bad.pdf"), []byte("x"))
	var logs bytes.Buffer
	o := daemon.Options{Config: cfg, APIKey: secret, Once: true,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := daemon.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// And with the wrong key.
	o.APIKey = secret + "_wrong"
	_, err2 := daemon.Run(ctx, o)
	all := logs.String() + sum.Problems[0] + err2.Error()
	for _, k := range []string{secret, "SECRET_ab12"} {
		if strings.Contains(all, k) {
			t.Fatalf("the key appears in logs or errors")
		}
	}
	if !strings.Contains(logs.String(), `"level":"DEBUG"`) || sum.Done != 6 {
		t.Fatalf("the run did not exercise the debug log: done=%d", sum.Done)
	}
	for _, p := range []string{results.ResultPath(filepath.Join(e.inbox, "ka.pdf"))} {
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secret)) {
			t.Fatal("the key appears in a result file")
		}
	}
}

// replaceDuringUpload swaps the file's content on disk just as the first
// submission starts streaming it.
type replaceDuringUpload struct {
	path string
	with []byte
	done bool
}

func (r *replaceDuringUpload) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/v1/extractions") && !r.done {
		r.done = true
		if err := os.WriteFile(r.path, r.with, 0o644); err != nil {
			return nil, err
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// The bytes sent must be the bytes hashed: a file replaced during its
// upload aborts the request uncharged, then starts a new life.
func TestFileReplacedDuringUpload(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	p := filepath.Join(e.inbox, "scan.pdf")
	write(t, p, pdf(t, 1, 1))
	replacement := pdf(t, 2, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := e.options(cfg, false)
	o.Transport = &replaceDuringUpload{path: p, with: replacement}
	done := make(chan struct{})
	go func() { _, _ = daemon.Run(ctx, o); close(done) }()
	e.waitFor("the replaced file's result", 20*time.Second, func() bool {
		b, err := os.ReadFile(results.ResultPath(p))
		return err == nil && bytes.Contains(b, []byte("INV-2026-00002"))
	})
	cancel()
	<-done
	if st := e.emu.Stats(); st.DocumentsCreated != 1 || st.PagesCharged != 1 {
		t.Fatalf("documents_created=%d pages_charged=%d: the aborted upload was charged", st.DocumentsCreated, st.PagesCharged)
	}
	if !strings.Contains(e.logs.String(), "changed or vanished while it was being sent") {
		t.Error("the abort was not logged")
	}
}
