//go:build !windows

// Command bench measures ppsync against the emulator with the documented
// limits on a shortened rate window, beside a baseline that follows the
// docs' polling workflow file by file:
//
//	go run ./bench                       # 100 and 1,000 files, then idle latency
//	go run ./bench -n 100,1000,10000 -window 3s -latency 20
//	go run ./bench -scenario steady,shared,backlog,million -window 3s
//
// ppsync runs as a child process (the real binary), so its peak RSS and CPU
// time are its own.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/pdfcheck"
	"github.com/ppsync/ppsync/internal/samples"
)

const key = "pp_test_bench"

type options struct {
	sizes       []int
	window      time.Duration
	baselineMax int
	latencyRuns int
	maxPages    int
	workers     int
	seed        uint64
	keep        bool
	// Scale scenarios (scenarios.go).
	scenarios    []string
	steadyFiles  int
	backlogFiles int
	sharedFiles  int
	instances    int
	records      int
	diskFiles    int
}

func main() {
	var o options
	sizes := flag.String("n", "100,1000", "numbers of files to drop (comma-separated)")
	flag.DurationVar(&o.window, "window", 3*time.Second, "rate window standing for the API's minute (150 requests, 20 submissions per window)")
	flag.IntVar(&o.baselineMax, "baseline-max", 1000, "run the file-by-file baseline up to this many files")
	flag.IntVar(&o.latencyRuns, "latency", 20, "single-file drops for the idle latency runs (0: skip)")
	flag.IntVar(&o.maxPages, "pages", 5, "pages per generated PDF: 1 to this")
	flag.IntVar(&o.workers, "workers", 32, "emulator documents processed at once")
	flag.Uint64Var(&o.seed, "seed", 1, "seed for the generated files")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folders")
	scen := flag.String("scenario", "", "run these scale scenarios instead of the throughput table: steady, shared, backlog, million (comma-separated)")
	flag.IntVar(&o.steadyFiles, "steady-files", 10000, "files for the steady scenario (one instance)")
	flag.IntVar(&o.backlogFiles, "backlog-files", 100000, "files for the backlog scenario")
	flag.IntVar(&o.sharedFiles, "shared-files", 3000, "files per instance for the shared scenario")
	flag.IntVar(&o.instances, "instances", 3, "instances on one key for the shared scenario")
	flag.IntVar(&o.records, "records", 1000000, "file records in the million scenario's synthetic state")
	flag.IntVar(&o.diskFiles, "disk-files", 100000, "of those, files on disk in the million scenario")
	flag.Parse()
	if *scen != "" {
		o.scenarios = strings.Split(*scen, ",")
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-n %q: want positive whole numbers", *sizes))
		}
		o.sizes = append(o.sizes, n)
	}
	if err := run(o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func run(o options) error {
	work, err := os.MkdirTemp("", "ppsync-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "ppsync")
	fmt.Fprintln(os.Stderr, "building ppsync…")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/ppsync").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	scale := float64(o.window) / float64(time.Minute)
	proc := time.Duration(float64(300*time.Millisecond) * scale)
	fmt.Printf("machine: %s/%s, %d CPUs; window %s standing for 1 min (scale %.3f); emulator: 150 req + 20 submissions per window, %s per page, %d workers\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), o.window, scale, proc, o.workers)
	if len(o.scenarios) > 0 {
		return runScenarios(o, bin, work)
	}
	fmt.Println("| files | ppsync wall | lower bound | wall / bound | docs per window (ceiling 1000) | API requests per doc | 429s | peak RSS | CPU time | baseline wall | baseline req/doc | speed-up |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range o.sizes {
		r, err := throughput(o, bin, work, n, proc)
		if err != nil {
			return err
		}
		base := "not run"
		baseReq, speed := "", ""
		if n <= o.baselineMax {
			bw, breq, err := baseline(o, work, n, proc)
			if err != nil {
				return err
			}
			base = fmtDur(bw)
			baseReq = fmt.Sprintf("%.2f", breq)
			speed = fmt.Sprintf("%.1f×", float64(bw)/float64(r.wall))
		}
		fmt.Printf("| %d | %s | %s | %.2f | %.0f | %.3f | %d | %.1f MiB | %s | %s | %s | %s |\n",
			n, fmtDur(r.wall), fmtDur(r.bound), float64(r.wall)/float64(r.bound), r.perWindow, r.reqPerDoc, r.throttled,
			float64(r.rssKiB)/1024, fmtDur(r.cpu), base, baseReq, speed)
	}
	if err := hashSpeed(work); err != nil {
		return err
	}
	if o.latencyRuns > 0 {
		fmt.Printf("\nidle single-file latency, drop to result, %d drops each, real limits (1 min window), settle 2s, 300ms per page, 1-page files:\n\n", o.latencyRuns)
		fmt.Println("| mode | p50 | p95 | max | API requests per doc |")
		fmt.Println("|---|---|---|---|---|")
		for _, mode := range []string{"polling", "webhook"} {
			l, err := latency(o, bin, work, mode)
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %s | %s | %s | %.2f |\n", mode, fmtDur(l.p50), fmtDur(l.p95), fmtDur(l.max), l.reqPerDoc)
		}
	}
	return nil
}

func fmtDur(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// server runs an emulator on a loopback port.
func server(o emulator.Options) (*emulator.Emulator, string, func(), error) {
	emu := emulator.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		emu.Close()
		return nil, "", nil, err
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return emu, "http://" + ln.Addr().String(), func() { srv.Close(); emu.Close() }, nil
}

// files writes n invoices of 1..maxPages pages and returns their total pages.
func files(dir string, n, maxPages int, seed uint64) (int, error) {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	total := 0
	for i := range n {
		pages := 1 + r.IntN(maxPages)
		total += pages
		sub := filepath.Join(dir, fmt.Sprintf("batch-%03d", i/500))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return 0, err
		}
		if err := samples.Generate(seed, i, pages).WriteFile(filepath.Join(sub, fmt.Sprintf("invoice-%05d.pdf", i))); err != nil {
			return 0, err
		}
	}
	return total, nil
}

type tput struct {
	wall, bound, cpu time.Duration
	perWindow        float64
	reqPerDoc        float64
	throttled        int
	rssKiB           int64
}

func throughput(o options, bin, work string, n int, proc time.Duration) (tput, error) {
	dir := filepath.Join(work, fmt.Sprintf("tput-%d", n))
	inbox := filepath.Join(dir, "inbox")
	fmt.Fprintf(os.Stderr, "generating %d PDFs…\n", n)
	pages, err := files(inbox, n, o.maxPages, o.seed)
	if err != nil {
		return tput{}, err
	}
	emu, url, stop, err := server(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30, ProcessingTime: proc,
		Workers: o.workers, RateWindow: o.window, TempDir: dir})
	if err != nil {
		return tput{}, err
	}
	defer stop()
	scale := float64(o.window) / float64(time.Minute)
	poll := max(time.Duration(float64(5*time.Second)*scale), 100*time.Millisecond)
	settle := 500 * time.Millisecond
	cfg := fmt.Sprintf(`[api]
base_url = %q
api_key = %q
rate_window = %q
[state]
path = "state.db"
[upload]
batch_window = "500ms"
[poll]
interval = %q
[admin]
listen = "off"
[log]
level = "warn"
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
recursive = true
settle = %q
`, url, key, o.window, poll, settle)
	cfgPath := filepath.Join(dir, "ppsync.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return tput{}, err
	}
	fmt.Fprintf(os.Stderr, "ppsync run --once on %d files…\n", n)
	start := time.Now()
	cmd := exec.Command(bin, "run", "-c", cfgPath, "--once")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return tput{}, fmt.Errorf("ppsync run --once (%d files): %v\n%s", n, err, tail(stderr.String()))
	}
	wall := time.Since(start)
	st := emu.Stats()
	if st.DocumentsCreated != n {
		return tput{}, fmt.Errorf("%d files: %d documents created", n, st.DocumentsCreated)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := tput{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		reqPerDoc: float64(st.RequestsTotal) / float64(n), throttled: st.RateLimited,
		perWindow: float64(n) / (float64(wall) / float64(o.window))}
	if ru != nil {
		r.rssKiB = int64(ru.Maxrss)
	}
	// The bound: every submission after the first window's 20 waits for a
	// window of its own; then the last batch is processed (its documents
	// in parallel, up to the emulator's workers); plus the settle time.
	subs := (n + 49) / 50
	extraWindows := max(int(math.Ceil(float64(subs)/20))-1, 0)
	avgPages := float64(pages) / float64(n)
	lastBatch := min(n, 50)
	rounds := math.Ceil(float64(lastBatch) / float64(o.workers))
	r.bound = time.Duration(extraWindows)*o.window + settle + time.Duration(rounds*avgPages*float64(proc))
	return r, nil
}

// baseline follows the docs' polling workflow file by file: submit with a
// content-hash key, poll the job until it is done, fetch the results.
func baseline(o options, work string, n int, proc time.Duration) (time.Duration, float64, error) {
	dir := filepath.Join(work, fmt.Sprintf("tput-%d", n), "inbox")
	var paths []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".pdf") {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Strings(paths)
	emu, url, stop, err := server(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30, ProcessingTime: proc,
		Workers: o.workers, RateWindow: o.window, TempDir: filepath.Dir(dir)})
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	c, err := api.New(api.Options{BaseURL: url, APIKey: key, RateWindow: o.window})
	if err != nil {
		return 0, 0, err
	}
	scale := float64(o.window) / float64(time.Minute)
	poll := max(time.Duration(float64(5*time.Second)*scale), 50*time.Millisecond)
	fmt.Fprintf(os.Stderr, "baseline on %d files…\n", n)
	ctx := context.Background()
	start := time.Now()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, 0, err
		}
		sum := sha256.Sum256(b)
		sub, err := c.Submit(ctx, "prs_invoice", hex.EncodeToString(sum[:]), []api.Upload{{Name: filepath.Base(p),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}})
		if err != nil {
			return 0, 0, fmt.Errorf("baseline submit %s: %w", p, err)
		}
		for {
			time.Sleep(poll)
			x, err := c.Extraction(ctx, sub.Extraction.ExtractionID)
			if err != nil {
				return 0, 0, err
			}
			if x.Status == apitypes.StatusCompleted || x.Status == apitypes.StatusFailed || x.Status == apitypes.StatusPartial {
				break
			}
		}
		res, err := c.Results(ctx, sub.Extraction.ExtractionID)
		if err != nil {
			return 0, 0, err
		}
		out, _ := json.Marshal(res)
		if err := os.WriteFile(p+".baseline.json", out, 0o644); err != nil {
			return 0, 0, err
		}
	}
	wall := time.Since(start)
	return wall, float64(emu.Stats().RequestsTotal) / float64(n), nil
}

type lat struct {
	p50, p95, max time.Duration
	reqPerDoc     float64
}

// latency drops one file at a time into a running daemon and times each
// drop to its result, with the real limits and defaults.
func latency(o options, bin, work, mode string) (lat, error) {
	dir := filepath.Join(work, "latency-"+mode)
	inbox := filepath.Join(dir, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		return lat{}, err
	}
	emu, url, stop, err := server(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30, TempDir: dir})
	if err != nil {
		return lat{}, err
	}
	defer stop()
	hook := ""
	if mode == "webhook" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return lat{}, err
		}
		addr := ln.Addr().String()
		ln.Close()
		hook = fmt.Sprintf("[webhook]\nenabled = true\nlisten = %q\npublic_url = \"http://%s/hook\"\n", addr, addr)
	}
	cfg := fmt.Sprintf(`[api]
base_url = %q
api_key = %q
[state]
path = "state.db"
[admin]
listen = "off"
[log]
level = "warn"
%s
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
`, url, key, hook)
	cfgPath := filepath.Join(dir, "ppsync.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return lat{}, err
	}
	cmd := exec.Command(bin, "run", "-c", cfgPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return lat{}, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	time.Sleep(2 * time.Second) // start-up: pre-flight, webhook registration and test
	before := emu.Stats().RequestsTotal
	var ds []time.Duration
	fmt.Fprintf(os.Stderr, "latency (%s): %d drops…\n", mode, o.latencyRuns)
	for i := range o.latencyRuns {
		b, err := samples.Generate(o.seed+99, i, 1).PDF()
		if err != nil {
			return lat{}, err
		}
		p := filepath.Join(inbox, fmt.Sprintf("drop-%02d.pdf", i))
		tmp := filepath.Join(inbox, fmt.Sprintf(".drop-%02d.pdf.tmp", i))
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return lat{}, err
		}
		start := time.Now()
		if err := os.Rename(tmp, p); err != nil { // an atomic drop
			return lat{}, err
		}
		deadline := start.Add(time.Minute)
		for {
			if _, err := os.Stat(p + ".json"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return lat{}, errors.New("no result within a minute:\n" + tail(stderr.String()))
			}
			time.Sleep(5 * time.Millisecond)
		}
		ds = append(ds, time.Since(start))
		time.Sleep(300 * time.Millisecond)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(f float64) time.Duration { return ds[min(len(ds)-1, int(math.Ceil(f*float64(len(ds))))-1)] }
	return lat{p50: q(0.5), p95: q(0.95), max: ds[len(ds)-1],
		reqPerDoc: float64(emu.Stats().RequestsTotal-before) / float64(len(ds))}, nil
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// hashSpeed compares ppsync's hashing with sha256sum on the same 256 MiB
// file (best of three each, after a warm-up read).
func hashSpeed(work string) error {
	p := filepath.Join(work, "hash.bin")
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for range 256 {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	f.Close()
	best := func(fn func() error) (time.Duration, error) {
		b := time.Duration(math.MaxInt64)
		for range 3 {
			s := time.Now()
			if err := fn(); err != nil {
				return 0, err
			}
			b = min(b, time.Since(s))
		}
		return b, nil
	}
	_, _, _ = pdfcheck.HashFile(p)
	ours, err := best(func() error { _, _, err := pdfcheck.HashFile(p); return err })
	if err != nil {
		return err
	}
	theirs, err := best(func() error { return exec.Command("sha256sum", p).Run() })
	if err != nil {
		fmt.Printf("\nhashing 256 MiB: ppsync %s (%.0f MB/s); sha256sum not available: %v\n", fmtDur(ours), 256*1.048576/ours.Seconds(), err)
		return nil
	}
	fmt.Printf("\nhashing 256 MiB: ppsync %s (%.0f MB/s), sha256sum %s (%.0f MB/s): ppsync at %.0f%% of sha256sum's speed\n",
		fmtDur(ours), 256*1.048576/ours.Seconds(), fmtDur(theirs), 256*1.048576/theirs.Seconds(), 100*theirs.Seconds()/ours.Seconds())
	return nil
}
