package daemon_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control/store"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
)

// A name that is not UTF-8 is processed like any other; a name whose
// result file would not fit the filesystem is refused before upload, with
// an error file under a name that fits. --once ends, and nothing is
// charged that is not delivered.
func TestNamesTheOSHolds(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	latin1 := filepath.Join(e.inbox, "Rechnung-M\xfcller-\xe4.pdf") // ISO-8859-1 bytes
	long := filepath.Join(e.inbox, strings.Repeat("x", 248)+".pdf") // 252 bytes: .error.json cannot follow
	plain := filepath.Join(e.inbox, "plain.pdf")
	for i, p := range []string{latin1, long, plain} {
		if err := os.WriteFile(p, pdf(t, i+1, 1), 0o644); err != nil {
			t.Skipf("SKIPPED: this filesystem does not hold the name %q: %v", filepath.Base(p), err)
		}
	}
	sum, err := e.once(cfg) // e.once has a 60 s deadline
	if err != nil {
		t.Fatal(err)
	}
	if invoiceNumber(t, readResult(t, latin1)) == "" || invoiceNumber(t, readResult(t, plain)) == "" {
		t.Error("no result for the non-UTF-8 or the plain name")
	}
	if exists(results.ResultPath(long)) {
		t.Error("a result beside a name too long for it")
	}
	var errFile string
	entries, _ := os.ReadDir(e.inbox)
	for _, d := range entries {
		if strings.HasSuffix(d.Name(), results.ErrorSuffix) && strings.HasPrefix(d.Name(), "xxxx") {
			errFile = filepath.Join(e.inbox, d.Name())
		}
	}
	if errFile == "" || len(filepath.Base(errFile)) > 255 {
		t.Fatalf("no error file that fits for the long name (found %q)", errFile)
	}
	b, _ := os.ReadFile(errFile)
	if !strings.Contains(string(b), uploader.CodeNameTooLong) || !strings.Contains(string(b), "rename it") {
		t.Errorf("error file: %s", b)
	}
	if sum.Done != 2 || sum.Invalid != 1 || sum.Waiting != 0 {
		t.Errorf("summary %+v: want 2 done, 1 refused", sum)
	}
	if !strings.Contains(strings.Join(sum.Problems, "\n"), uploader.CodeNameTooLong) {
		t.Errorf("problems %q do not list the long name", sum.Problems)
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 2 || st.PagesCharged != 2 {
		t.Errorf("charged %d documents, %d pages: want only the 2 delivered", st.DocumentsCreated, st.PagesCharged)
	}

	// The state keeps the raw bytes: the record names the file on disk.
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.View(func(tx *state.Tx) error {
		f, ok, err := tx.File(latin1)
		if err != nil || !ok || f.Path != latin1 || f.State != state.FileDone {
			t.Errorf("record of the non-UTF-8 name: %+v, %v, %v", f, ok, err)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// statusOf reads `ppsync status` figures from the state file of a stopped daemon.
func statusOf(t *testing.T, cfg *config.Config) report.Report {
	t.Helper()
	st, err := state.Open(cfg.State.Path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := store.Report(st, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A file over max_file_size is refused with its real size and sha256.
func TestTooLargeErrorFileNamesTheContent(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	b := pdf(t, 1, 3)
	cfg.Upload.MaxFileSize.Bytes = int64(len(b) / 2)
	p := filepath.Join(e.inbox, "big.pdf")
	write(t, p, b)
	sum, err := e.once(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ef := readError(t, p)
	want := sha256.Sum256(b)
	if ef.Error.Code != "FILE_TOO_LARGE" || ef.Source.Size != int64(len(b)) || ef.Source.SHA256 != hex.EncodeToString(want[:]) {
		t.Errorf("error file %+v: want FILE_TOO_LARGE with size %d and the sha256", ef, len(b))
	}
	if sum.Invalid != 1 || sum.OK() {
		t.Errorf("summary %+v", sum)
	}
}
