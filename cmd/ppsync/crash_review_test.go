//go:build !windows

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
	"github.com/ppsync/ppsync/internal/samples"
)

// TestCrashReviewApprovals approves held results through the real binary
// and SIGKILLs it at random moments while it does, again and again, then
// checks that every file has exactly one approved result with the
// correction, no held file is left, the ledger has one row per file, and
// nothing was charged again.
func TestCrashReviewApprovals(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: builds the binary and kills it repeatedly")
	}
	seed, rng := crashSeed(t, "", 7)
	bin := buildDaemon(t)
	emu, srv := crashEmulator(t, seed, 5*time.Millisecond)
	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(root, "ppsync.toml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`[api]
base_url = %q
api_key = "pp_test_crash"
rate_window = "1s"
[state]
path = "state.db"
[upload]
batch_window = "100ms"
[poll]
interval = "100ms"
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
settle = "100ms"
review_below = 0.85
ledger = "ledger.csv"
`, srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 12
	for i := range n {
		inv := samples.Generate(seed, i, 1)
		inv.Extra = []string{emulator.LowConfidenceMarker}
		if err := inv.WriteFile(filepath.Join(inbox, fmt.Sprintf("invoice-%02d.pdf", i))); err != nil {
			t.Fatal(err)
		}
	}
	runOnce(t, bin, cfgPath)
	for i := range n {
		if p := filepath.Join(inbox, fmt.Sprintf("invoice-%02d.pdf", i)); !exists(results.ReviewPath(p)) {
			t.Fatalf("%s was not held", p)
		}
	}
	charged := emu.Stats().PagesCharged
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	kills := 0
	for round := 0; ; round++ {
		if round > 40 {
			t.Fatalf("approvals never finished:\n%s", tailStr(logs.String(), 4000))
		}
		cmd := exec.Command(bin, "run", "-c", cfgPath)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c := admin.NewClient(cfg)
		var l admin.ReviewList
		deadline := time.Now().Add(20 * time.Second)
		for {
			if l, err = c.ReviewList(t.Context()); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the daemon never answered: %v\n%s", err, tailStr(logs.String(), 4000))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if l.Count == 0 {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			break
		}
		// Approve every listed result, and kill the daemon while it does.
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, it := range l.Items {
				_, _ = c.ReviewDecide(ctx, it.ID, true, admin.ReviewDecision{Set: map[string]string{"total_amount": "777.5"}, By: "crash test"})
			}
		}()
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		cancel()
		<-done
	}
	t.Logf("%d kills", kills)
	runOnce(t, bin, cfgPath)
	for i := range n {
		p := filepath.Join(inbox, fmt.Sprintf("invoice-%02d.pdf", i))
		if exists(results.ReviewPath(p)) {
			t.Errorf("%s is still held", p)
		}
		b, err := os.ReadFile(results.ResultPath(p))
		var r struct {
			Document struct {
				ExtractedData map[string]any `json:"extracted_data"`
			} `json:"document"`
			Review struct {
				Decision string `json:"decision"`
			} `json:"review"`
		}
		if err != nil || json.Unmarshal(b, &r) != nil || r.Review.Decision != "approved" || r.Document.ExtractedData["total_amount"] != 777.5 {
			t.Errorf("%s: %v\n%s", p, err, b)
		}
	}
	led, err := os.ReadFile(filepath.Join(inbox, "ledger.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(led), "\r", "")), "\n")[1:]
	if len(rows) != n {
		t.Errorf("the ledger has %d rows for %d files:\n%s", len(rows), n, led)
	}
	for _, r := range rows {
		if !strings.Contains(r, "777.5") {
			t.Errorf("ledger row without the correction: %s", r)
		}
	}
	if emu.Stats().PagesCharged != charged {
		t.Errorf("approvals charged again: %d → %d pages", charged, emu.Stats().PagesCharged)
	}
	noTempLeft(t, root)
}
