package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
)

// fillOnSubmit fills the state's disk right after the first submission is
// accepted: the API has charged it, and the state cannot record it.
type fillOnSubmit struct {
	filler string
	once   sync.Once
	filled chan struct{}
}

func (f *fillOnSubmit) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && r.URL.Path == "/v1/extractions" {
		f.once.Do(func() {
			fill(f.filler)
			close(f.filled)
		})
	}
	return resp, err
}

// fill writes path until the disk is full.
func fill(path string) {
	out, err := os.Create(path)
	if err != nil {
		return
	}
	defer out.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := out.Write(chunk); err != nil {
			break
		}
	}
	for { // the last bytes
		if _, err := out.Write(chunk[:512]); err != nil {
			return
		}
	}
}

// A state file on a disk that fills up while files are being submitted:
// /healthz names the state file, the messages are not repeated, and once
// space is freed every file ends done without a restart, charged once.
func TestFullStateDiskRecoversWithoutRestart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting a small tmpfs for the state needs root (CI runs as root); the full-disk test did not run")
	}
	e := newEnv(t, emulator.Options{ProcessingTime: 200 * time.Millisecond})
	stateDir := filepath.Join(e.root, "statefs")
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", stateDir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("SKIPPED: cannot mount a tmpfs here (%v); the full-disk test did not run", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(stateDir, syscall.MNT_DETACH) })
	cfg := e.config("")
	cfg.State.Path = filepath.Join(stateDir, "ppsync.db")
	cfg.Admin.Listen = freePort(t)
	// Every file in the one submission after which the disk fills: hashing
	// them all takes longer than the tests' 100 ms.
	cfg.Upload.BatchWindow = config.D(2 * time.Second)
	filler := filepath.Join(stateDir, "filler")
	tr := &fillOnSubmit{filler: filler, filled: make(chan struct{})}
	o := e.options(cfg, false)
	o.Transport = tr
	ready := make(chan struct{})
	o.Ready = ready
	done := make(chan error, 1)
	ctx, cancel := contextWithCancel()
	go func() { _, err := daemon.Run(ctx, o); done <- err }()
	<-ready
	// Enough documents, with results large enough, that recording them
	// needs more of the state file than its free pages (a result stays in
	// the state until its file is written): with 24 small results the free
	// pages sometimes sufficed. Still one submission (at most 50 files).
	const n = 48
	var items []string
	for j := range 40 {
		items = append(items, fmt.Sprintf("Archival storage box %02d, acid-free board, 40 x 30 x 25 cm, lid and label 12.%02d", j, j))
	}
	var files []string
	for i := range n {
		p := filepath.Join(e.inbox, fmt.Sprintf("full-%d.pdf", i))
		write(t, p, pdf(t, i, 1, items...))
		files = append(files, p)
	}
	select {
	case <-tr.filled:
	case <-time.After(patience.Scale(20 * time.Second)):
		t.Fatal("nothing was submitted")
	}
	// More files once the disk is full: new records under long names make
	// the state's tree grow, which freed pages alone cannot absorb.
	long := strings.Repeat("scanned-delivery-note-", 10)
	for i := range 16 {
		p := filepath.Join(e.inbox, fmt.Sprintf("%s%d.pdf", long, i))
		write(t, p, pdf(t, n+i, 1, items...))
		files = append(files, p)
	}
	e.waitFor("a state write failure to be logged", 20*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "no space left on device")
	})
	e.waitFor("/healthz to name the state file", 10*time.Second, func() bool {
		code, body := healthz(t, cfg.Admin.Listen)
		return code == http.StatusServiceUnavailable && strings.Contains(body, cfg.State.Path)
	})
	time.Sleep(time.Second) // several retries (polls every 100 ms)
	seen := map[string]int{}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, "no space left on device") {
			msg, _, _ := strings.Cut(line[strings.Index(line, "msg="):], " component=")
			seen[msg]++
		}
	}
	for msg, n := range seen {
		if n > 1 {
			t.Errorf("%s: logged %d times within a minute, want once", msg, n)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	e.waitFor("every result after space was freed", 60*time.Second, func() bool { return allResults(files) })
	e.waitFor("/healthz ok again", 10*time.Second, func() bool {
		code, _ := healthz(t, cfg.Admin.Listen)
		return code == http.StatusOK
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v", err)
	}
	if st := e.emu.Stats(); st.DocumentsCreated != len(files) {
		t.Errorf("documents_created = %d, want %d: nothing charged twice", st.DocumentsCreated, len(files))
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
