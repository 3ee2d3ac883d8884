package smbtest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/smbtest"
	"github.com/ppsync/ppsync/internal/testlog"
)

// Drop to result on a real share, from the first second after a restart:
// the daemon runs on an inbox on the share, is stopped and started again,
// and files are dropped from the moment it starts, every 300 ms, by the
// server (another machine writing to the share) and by a client through
// the mount, alternately. Each file's time from its drop to its result
// (seen on the server) is measured here, and:
//
//   - its 95th percentile is at most settle + 3 s + processing: the
//     inbox is listed every 2 s from the start (not once a minute, not only
//     after events that never come), the listing itself takes a moment,
//     and the file waits settle. Processing is measured per file as the
//     time from its submission (the emulator's handler sees its name) to
//     its result, plus the batch window the uploader waits before
//     submitting; its 95th percentile is added. The 3 s are scaled by the
//     machine's load (internal/patience);
//   - the drop-to-result p95 the daemon reports (the status page's figure,
//     /ui/api/overview) is within 10 % of the measured one: the daemon's
//     clock starts when the file could first have been seen, its mtime or
//     ctime, not when a listing found it or it settled.
//
// 12 drops by default, 40 with PPSYNC_TEST_HEAVY=1.
func TestDropToResultOnAShareAfterARestart(t *testing.T) {
	drops := 12
	if os.Getenv("PPSYNC_TEST_HEAVY") != "" {
		drops = 40
	}
	const (
		settle      = time.Second
		batchWindow = 100 * time.Millisecond
		every       = 300 * time.Millisecond
	)
	s := smbtest.Start(t)
	emu := emulator.New(emulator.Options{APIKeys: []string{apiKey}, ProcessingTime: 50 * time.Millisecond, Credits: 1000,
		RateWindow: time.Second, TempDir: t.TempDir()})
	names := make([]string, drops)
	for i := range names {
		names[i] = fmt.Sprintf("restart-drop-%03d.pdf", i)
	}
	// The submission of each dropped file: the last one accepted names it.
	var mu sync.Mutex
	submitted := map[string]time.Time{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/extractions" {
			at := time.Now()
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			mu.Lock()
			for _, n := range names {
				if bytes.Contains(body, []byte(`filename="`+n+`"`)) {
					submitted[n] = at
				}
			}
			mu.Unlock()
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); emu.Close() })

	const sub = "restart"
	if err := os.MkdirAll(filepath.Join(s.Folder, sub), 0o777); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	cfg := shareConf{API: srv.URL, Inbox: filepath.Join(s.Mount, sub), Settle: settle.String(), BatchWindow: batchWindow.String(), Listen: listen}.parse(t)
	logs := &testlog.Buffer{}
	runDaemon := func() (stop func()) { return startDaemon(t, cfg, logs) }
	result := func(name string) string { return filepath.Join(s.Folder, sub, name+".json") }
	waitResults := func(names []string) map[string]time.Time {
		t.Helper()
		got := map[string]time.Time{}
		deadline := time.Now().Add(patience.Scale(2 * time.Minute))
		for len(got) < len(names) {
			for _, n := range names {
				if _, ok := got[n]; !ok {
					if _, err := os.Stat(result(n)); err == nil {
						got[n] = time.Now()
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d results after %v; log:\n%s", len(got), len(names), patience.Scale(2*time.Minute), logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return got
	}
	pdf := func(i int) []byte {
		b, err := samples.Generate(uint64(7000+i), i, 1).PDF()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// A first run, with a file done, then a stop.
	stop := runDaemon()
	beforeDropped := time.Now()
	s.WriteDirect(sub+"/before-restart.pdf", pdf(999))
	before := waitResults([]string{"before-restart.pdf"})["before-restart.pdf"].Sub(beforeDropped)
	stop()

	// The restart, and drops from its first second.
	files := make([][]byte, drops)
	for i := range files {
		files[i] = pdf(i)
	}
	dropped := map[string]time.Time{}
	restarted := time.Now()
	stop = runDaemon()
	defer stop()
	for i, n := range names {
		time.Sleep(time.Until(restarted.Add(time.Duration(i) * every)))
		dropped[n] = time.Now()
		if i%2 == 0 {
			s.WriteDirect(sub+"/"+n, files[i]) // the server's side: another machine
		} else if err := os.WriteFile(filepath.Join(s.Mount, sub, n), files[i], 0o644); err != nil { // a client, through the mount
			t.Fatal(err)
		}
	}
	done := waitResults(names)

	var lat, proc []time.Duration
	mu.Lock()
	for _, n := range names {
		l := done[n].Sub(dropped[n])
		at, ok := submitted[n]
		if !ok {
			mu.Unlock()
			t.Fatalf("%s has a result but its submission was not seen", n)
		}
		p := done[n].Sub(at) + batchWindow
		lat, proc = append(lat, l), append(proc, p)
		t.Logf("%s (%s): drop to result %v, of which processing %v", n, map[bool]string{true: "server", false: "client"}[slices.Index(names, n)%2 == 0],
			l.Round(time.Millisecond), p.Round(time.Millisecond))
	}
	mu.Unlock()
	p95, proc95 := pct(lat, 95), pct(proc, 95)
	bound := settle + patience.Scale(3*time.Second) + proc95
	t.Logf("after a restart, %d drops: drop to result p50 %v, p95 %v; processing p95 %v; bound settle %v + 3 s (scaled: %v) + processing = %v (%s)",
		drops, pct(lat, 50).Round(time.Millisecond), p95.Round(time.Millisecond), proc95.Round(time.Millisecond), settle,
		patience.Scale(3*time.Second).Round(time.Millisecond), bound.Round(time.Millisecond), patience.Describe())
	if p95 > bound {
		t.Errorf("drop to result p95 %v after a restart, want at most settle + 3 s + processing = %v; log:\n%s", p95, bound, logs.String())
	}

	// The page's figure: the daemon's own p95 over the same results.
	var ov struct {
		Activity *struct {
			Samples int     `json:"latency_samples"`
			P50     float64 `json:"latency_p50_seconds"`
			P95     float64 `json:"latency_p95_seconds"`
		} `json:"activity"`
	}
	deadline := time.Now().Add(patience.Scale(30 * time.Second))
	for {
		if err := json.Unmarshal(adminGet(t, cfg, "/ui/api/overview"), &ov); err != nil {
			t.Fatal(err)
		}
		if ov.Activity != nil && ov.Activity.Samples >= drops+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page counts %+v results, want %d", ov.Activity, drops+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The page keeps the results of before the restart (the state's
	// history): the first run's file is among its figures, and among the
	// measured ones compared with them.
	all := append(slices.Clone(lat), before)
	measured := pct(all, 95)
	page := time.Duration(ov.Activity.P95 * float64(time.Second))
	off := math.Abs(float64(page-measured)) / float64(measured)
	t.Logf("the page says p50 %.2fs, p95 %.2fs over %d results; measured here p95 %v over the same %d: %.1f %% apart",
		ov.Activity.P50, ov.Activity.P95, ov.Activity.Samples, measured.Round(time.Millisecond), len(all), 100*off)
	if ov.Activity.Samples != len(all) {
		t.Errorf("the page counts %d results, want %d: the %d dropped after the restart and the one before", ov.Activity.Samples, len(all), drops)
	}
	if off > 0.10 {
		t.Errorf("the page's drop-to-result p95 is %v, the measured one %v: %.1f %% apart, want at most 10 %%", page, measured, 100*off)
	}
}

// pct is the nearest-rank percentile, as the daemon computes it.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	rank := max((p*len(s)+99)/100, 1)
	return s[rank-1]
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// adminGet fetches path from cfg's daemon's admin endpoint with the token
// it wrote for local clients.
func adminGet(t *testing.T, cfg *config.Config, path string) []byte {
	t.Helper()
	tok, err := os.ReadFile(config.AdminTokenFile(cfg.State.Path))
	if err != nil {
		t.Fatalf("read the daemon's admin token: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+cfg.Admin.Listen+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b
}
