//go:build !windows

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// crashSeed is PPSYNC_CRASH_SEED, else a random seed, logged after what
// with how to rerun, and a generator from it (stream tells the tests'
// generators apart).
func crashSeed(t *testing.T, what string, stream uint64) (uint64, *rand.Rand) {
	t.Helper()
	seed := uint64(envInt("PPSYNC_CRASH_SEED", int(time.Now().UnixNano()%1_000_000)+1))
	t.Logf("%sseed %d (rerun with PPSYNC_CRASH_SEED=%d)", what, seed, seed)
	return seed, rand.New(rand.NewPCG(seed, stream))
}

// TestCrashHarness builds the real binary, runs the daemon over a few
// hundred PDFs in nested folders, kills it with SIGKILL at random moments,
// restarts it each time, and then checks from the emulator's stats and the
// disk that every file has exactly one correct result, nothing was charged
// twice, and no temp file is left.
//
//	PPSYNC_CRASH_KILLS (20), PPSYNC_CRASH_FILES (200), PPSYNC_CRASH_SEED (random, logged)
func TestCrashHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the crash harness builds the binary and runs for about a minute")
	}
	kills := envInt("PPSYNC_CRASH_KILLS", 20)
	nFiles := envInt("PPSYNC_CRASH_FILES", 200)
	seed, rng := crashSeed(t, fmt.Sprintf("crash harness: %d kills, %d files, ", kills, nFiles), 42)

	bin := buildDaemon(t, "-race")
	emu, srv := crashEmulator(t, seed, 10*time.Millisecond)

	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	cfgPath := filepath.Join(root, "ppsync.toml")
	cfg := fmt.Sprintf(`[api]
base_url = %q
api_key = "pp_test_crash"
rate_window = "1s"
[state]
path = "state.db"
[upload]
batch_window = "150ms"
max_batch_files = 20
[poll]
interval = "100ms"
[admin]
listen = "off"
[log]
level = "debug"
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
recursive = true
settle = "100ms"
`, srv.URL)
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// The files: distinct invoices in nested folders, plus copies of some
	// under other names, dropped in waves between the kills.
	type want struct {
		number string
		sha    string
		pages  int
	}
	expect := map[string]want{}
	distinct := map[string]int{} // sha -> pages
	var waves [][]func()
	wave := func() int { return rng.IntN(4) }
	waves = make([][]func(), 4)
	for i := range nFiles {
		pages := 1 + rng.IntN(3)
		inv := samples.Generate(seed, i, pages)
		b, err := inv.PDF()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		sha := hex.EncodeToString(sum[:])
		distinct[sha] = pages
		p := filepath.Join(inbox, fmt.Sprintf("dept-%d", i%5), fmt.Sprintf("month-%02d", i%12), fmt.Sprintf("invoice %04d.pdf", i))
		expect[p] = want{inv.Number, sha, pages}
		names := []string{p}
		if i%20 == 0 {
			dup := filepath.Join(inbox, "copies", fmt.Sprintf("copy of %04d.pdf", i))
			expect[dup] = want{inv.Number, sha, pages}
			names = append(names, dup)
		}
		for _, n := range names {
			w := wave()
			waves[w] = append(waves[w], func() {
				if err := os.MkdirAll(filepath.Dir(n), 0o755); err != nil {
					t.Fatal(err)
				}
				tmp := filepath.Join(filepath.Dir(n), "."+filepath.Base(n)+".part")
				if err := os.WriteFile(tmp, b, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, n); err != nil {
					t.Fatal(err)
				}
			})
		}
	}

	var logs bytes.Buffer
	for k := range kills {
		if k%5 == 0 && k/5 < len(waves) {
			for _, drop := range waves[k/5] {
				drop()
			}
		}
		runAndKill(t, bin, cfgPath, &logs, time.Duration(50+rng.IntN(900))*time.Millisecond)
	}
	for w := kills/5 + 1; w < len(waves); w++ {
		for _, drop := range waves[w] {
			drop()
		}
	}
	// A last, uninterrupted run finishes the job.
	out := runOnce(t, bin, cfgPath)

	st := emu.Stats()
	wantPages := 0
	for _, p := range distinct {
		wantPages += p
	}
	t.Logf("after %d kills: %d files, %d distinct documents; emulator: documents_created=%d pages_charged=%d idempotent_replays=%d submissions=%d",
		kills, len(expect), len(distinct), st.DocumentsCreated, st.PagesCharged, st.IdempotentReplays, st.Requests["POST /v1/extractions"])
	if st.DocumentsCreated != len(distinct) || st.PagesCharged != wantPages {
		t.Errorf("charged twice or lost: documents_created=%d (want %d), pages_charged=%d (want %d); seed %d",
			st.DocumentsCreated, len(distinct), st.PagesCharged, wantPages, seed)
	}
	for p, w := range expect {
		b, err := os.ReadFile(results.ResultPath(p))
		if err != nil {
			t.Errorf("%s: no result (seed %d)", p, seed)
			continue
		}
		var r struct {
			Document struct {
				Data struct {
					InvoiceNumber string `json:"invoice_number"`
				} `json:"extracted_data"`
			} `json:"document"`
			Source results.Source `json:"source"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Errorf("%s: result does not parse: %v", p, err)
			continue
		}
		if r.Document.Data.InvoiceNumber != w.number || r.Source.SHA256 != w.sha || r.Source.Path != p {
			t.Errorf("%s: wrong result %+v", p, r)
		}
		if _, err := os.Stat(results.ErrorPath(p)); err == nil {
			t.Errorf("%s: has an error file too", p)
		}
	}
	noTempLeft(t, root)
	if t.Failed() {
		t.Logf("daemon output (tail):\n%s", tailStr(logs.String()+out, 6000))
	}
}

// buildDaemon builds this command into a temp folder with extra go build
// flags and returns the binary's path.
func buildDaemon(t *testing.T, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ppsync")
	args := append(append([]string{"build"}, flags...), "-o", bin, ".")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// crashEmulator serves an emulator with plenty of credits for the key
// pp_test_crash until t ends.
func crashEmulator(t *testing.T, seed uint64, processing time.Duration) (*emulator.Emulator, *httptest.Server) {
	t.Helper()
	emu := emulator.New(emulator.Options{APIKeys: []string{"pp_test_crash"}, Credits: 1 << 20, ProcessingTime: processing,
		RateWindow: time.Second, TempDir: t.TempDir(), Seed: seed})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	return emu, srv
}

// runAndKill starts the daemon, lets it run for d and SIGKILLs it.
func runAndKill(t *testing.T, bin, cfgPath string, logs *bytes.Buffer, d time.Duration) {
	t.Helper()
	cmd := exec.Command(bin, "run", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// runOnce runs the daemon with --once, which must succeed, and returns its
// output.
func runOnce(t *testing.T, bin, cfgPath string) string {
	t.Helper()
	cmd := exec.Command(bin, "run", "-c", cfgPath, "--once")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("final run: %v\n%s", err, tailStr(out.String(), 4000))
	}
	return out.String()
}

// noTempLeft fails t for every file under root whose name holds ".ppsync-"
// (a temp file), other than the names in keep.
func noTempLeft(t *testing.T, root string, keep ...string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".ppsync-") && !slices.Contains(keep, d.Name()) {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

func tailStr(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
