//go:build !windows

// Command bench measures ppsync against the emulator with the documented
// limits on a shortened rate window, beside a baseline that follows the
// docs' polling workflow file by file:
//
//	go run ./bench                       # 100 and 1,000 files, then idle latency
//	go run ./bench -n 100,1000,10000 -window 3s -latency 20
//	go run ./bench -n 0 -latency 20          # idle latency only
//	go run ./bench -scenario steady,shared,backlog,million -window 3s
//	go run ./bench -scenario share -share-files 600,1200   # a real Samba share (root, smbd, smbnetfs)
//	go run ./bench -scenario share -share-case-sensitive    # the same on a share with case sensitive = yes
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
	"slices"
	"sort"
	"strconv"
	"strings"
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
	copies       []int
	localFiles   int
	restartFiles int
	shareFiles   string
	shareCase    bool
	// watchStatus: the steady and backlog scenarios ask the daemon's
	// /status every second while it runs, as a status page left open does
	// (adminListen is then the admin endpoint's address).
	watchStatus bool
	adminListen string
}

func main() {
	var o options
	sizes := flag.String("n", "100,1000", "numbers of files to drop (comma-separated; 0: skip the throughput table)")
	flag.DurationVar(&o.window, "window", 3*time.Second, "rate window standing for the API's minute (150 requests, 20 submissions per window)")
	flag.IntVar(&o.baselineMax, "baseline-max", 1000, "run the file-by-file baseline up to this many files")
	flag.IntVar(&o.latencyRuns, "latency", 20, "single-file drops for the idle latency runs (0: skip)")
	flag.IntVar(&o.maxPages, "pages", 5, "pages per generated PDF: 1 to this")
	flag.IntVar(&o.workers, "workers", 32, "emulator documents processed at once")
	flag.Uint64Var(&o.seed, "seed", 1, "seed for the generated files")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folders")
	scen := flag.String("scenario", "", "run these scale scenarios instead of the throughput table: steady, shared, backlog, million, copies, local-limit, restart, share (comma-separated)")
	flag.IntVar(&o.steadyFiles, "steady-files", 10000, "files for the steady scenario (one instance)")
	flag.IntVar(&o.backlogFiles, "backlog-files", 100000, "files for the backlog scenario")
	flag.BoolVar(&o.watchStatus, "watch-status", false, "steady and backlog scenarios: ask the daemon's /status every second while it runs, as a status page left open does")
	flag.IntVar(&o.sharedFiles, "shared-files", 3000, "files per instance for the shared scenario")
	flag.IntVar(&o.instances, "instances", 3, "instances on one key for the shared scenario")
	flag.IntVar(&o.records, "records", 1000000, "file records in the million scenario's synthetic state")
	flag.IntVar(&o.diskFiles, "disk-files", 100000, "of those, files on disk in the million scenario")
	flag.IntVar(&o.localFiles, "local-files", 2000, "new PDFs of 100 KB to 2 MB for the local-limit scenario")
	flag.IntVar(&o.restartFiles, "files", 100000, "known files for the restart scenario")
	flag.StringVar(&o.shareFiles, "share-files", "600,1200", "files for the share scenario (comma-separated; the first is the one the others are compared with)")
	flag.BoolVar(&o.shareCase, "share-case-sensitive", false, "share scenario: set 'case sensitive = yes' on the Samba share (missing names ruled out without a folder scan)")
	copies := flag.String("copies", "1000,4000,16000", "copies of one PDF for the copies scenario (comma-separated)")
	flag.Parse()
	for _, c := range strings.Split(*copies, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-copies %q: want positive whole numbers", *copies))
		}
		o.copies = append(o.copies, n)
	}
	if *scen != "" {
		o.scenarios = strings.Split(*scen, ",")
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err == nil && n == 0 && *sizes == "0" {
			break
		}
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-n %q: want positive whole numbers, or 0 alone to skip the throughput table", *sizes))
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
	// The daemon measured is built as the Linux packages build it
	// (packaging/build.sh): without cgo, position-independent, stripped.
	fmt.Fprintln(os.Stderr, "building ppsync as packaging/build.sh does (CGO_ENABLED=0, -trimpath -buildmode=pie -ldflags '-s -w')…")
	build := exec.Command("go", "build", "-trimpath", "-buildmode=pie", "-ldflags", "-s -w", "-o", bin, "./cmd/ppsync")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	scale := float64(o.window) / float64(time.Minute)
	proc := time.Duration(float64(300*time.Millisecond) * scale)
	fmt.Printf("machine: %s/%s, %d CPUs; window %s standing for 1 min (scale %.3f); emulator: 150 req + 20 submissions per window, %s per page, %d workers\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), o.window, scale, proc, o.workers)
	if note := workFSNote(work); note != "" {
		fmt.Printf("%s\n\n", note)
	}
	if len(o.scenarios) > 0 {
		return runScenarios(o, bin, work)
	}
	if len(o.sizes) > 0 {
		if err := throughputTable(o, bin, work, proc); err != nil {
			return err
		}
	}
	if o.latencyRuns > 0 {
		fmt.Printf("\nidle single-file latency, drop to result, %d drops each, real limits (1 min window), settle 2s, 300ms per page, 1-page files;\n"+
			"to submission: drop until the emulator receives the POST; after: submission until the result file exists\n\n", o.latencyRuns)
		fmt.Println("| mode | drop | p50 | p95 | max | to submission p50 / p95 | after submission p50 / p95 | API requests per doc |")
		fmt.Println("|---|---|---|---|---|---|---|---|")
		for _, mode := range []string{"polling", "webhook"} {
			for _, drop := range []string{"rename", "write"} {
				l, err := latency(o, bin, work, mode, drop)
				if err != nil {
					return err
				}
				fmt.Printf("| %s | %s | %s | %s | %s | %s / %s | %s / %s | %.2f |\n", mode, drop, fmtDur(l.p50), fmtDur(l.p95), fmtDur(l.max),
					fmtDur(l.toSubmit.p50), fmtDur(l.toSubmit.p95), fmtDur(l.afterSubmit.p50), fmtDur(l.afterSubmit.p95), l.reqPerDoc)
			}
		}
	}
	return nil
}

func throughputTable(o options, bin, work string, proc time.Duration) error {
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
	return hashSpeed(work)
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
	emu, wc, url, stop, err := countingServer(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30, ProcessingTime: proc,
		Workers: o.workers, RateWindow: o.window, TempDir: dir})
	if err != nil {
		return tput{}, err
	}
	defer stop()
	const settle = 500 * time.Millisecond // writeConfig's settle
	cfgPath, err := writeConfig(dir, url, o, "warn", "")
	if err != nil {
		return tput{}, err
	}
	fmt.Fprintf(os.Stderr, "ppsync run --once on %d files…\n", n)
	start := time.Now()
	run, err := runOnce(bin, cfgPath)
	if err != nil {
		return tput{}, err
	}
	wall := run.wall
	fmt.Fprintf(os.Stderr, "%d files: %s; the run ended %s after the start\n", n, wc.timeline(start), fmtDur(wall))
	st := emu.Stats()
	if st.DocumentsCreated != n {
		return tput{}, fmt.Errorf("%d files: %d documents created", n, st.DocumentsCreated)
	}
	r := tput{wall: wall, cpu: run.cpu, rssKiB: run.rssKiB,
		reqPerDoc: float64(st.RequestsTotal) / float64(n), throttled: st.RateLimited,
		perWindow: float64(n) / (float64(wall) / float64(o.window))}
	r.bound = lowerBound(n, pages, o.workers, o.window, proc, start, settle)
	return r, nil
}

// lowerBound is the least time n files of pages pages in all can take from
// start against the emulator's limits, whatever the client: nothing is
// submitted before the files have settled; the server's windows are fixed
// (aligned to its clock, as the emulator's), 20 submissions of 50 files
// each, so the first window is whatever is left of the one the first
// submission can come in, and every further 20 submissions wait for a
// window of their own; then the documents of the last window are processed,
// none before it opens, the emulator's workers all busy on them (the last
// batch's documents at least in parallel).
func lowerBound(n, pages, workers int, window, perPage time.Duration, start time.Time, settle time.Duration) time.Duration {
	subs := (n + 49) / 50
	windows := int(math.Ceil(float64(subs) / 20))
	avgPages := float64(pages) / float64(n)
	lastWindowDocs := n - max(windows-1, 0)*20*50
	rounds := math.Max(math.Ceil(float64(min(n, 50))/float64(workers)), float64(lastWindowDocs)/float64(workers))
	processing := time.Duration(rounds * avgPages * float64(perPage))
	if windows <= 1 {
		return settle + processing
	}
	earliest := start.Add(settle)
	firstEnds := earliest.Truncate(window).Add(window)
	return firstEnds.Sub(start) + time.Duration(windows-2)*window + processing
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
	// toSubmit is the drop until the emulator receives the submission
	// (watcher and uploader); afterSubmit the rest (processing, finding the
	// finished job, fetching and writing the result).
	toSubmit, afterSubmit struct{ p50, p95 time.Duration }
	reqPerDoc             float64
}

// latency drops one file at a time into a running daemon and times each
// drop to its result, with the real limits and defaults. drop is "rename"
// (written under a hidden temp name, then renamed in: an atomic drop) or
// "write" (created, written and closed in place).
func latency(o options, bin, work, mode, drop string) (lat, error) {
	dir := filepath.Join(work, "latency-"+mode+"-"+drop)
	inbox := filepath.Join(dir, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		return lat{}, err
	}
	// The emulator behind a handler that notes when each submission arrives.
	emu := emulator.New(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30, TempDir: dir})
	defer emu.Close()
	submitted := make(chan time.Time, 16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return lat{}, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/extractions" {
			select {
			case submitted <- time.Now():
			default:
			}
		}
		emu.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String()
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
	// Start-up (pre-flight, webhook registration and its test delivery) can
	// outlast any fixed wait on a busy disk, and a file dropped before the
	// watcher watches its folder is found by the first scan and waits
	// settle. The watchers start last, so one untimed file goes first: a
	// text file named .pdf, refused without an API call. Once its error file
	// exists every stage is running, and the 20 submissions of the window
	// are all left for the timed drops (a PDF here made the 21st wait for the
	// next window: one drop of each run took 13-40 s).
	warmPath := filepath.Join(inbox, "warm-up.pdf")
	if err := os.WriteFile(warmPath+".tmp", []byte("not a PDF: the warm-up file of the latency runs\n"), 0o644); err != nil {
		return lat{}, err
	}
	if err := os.Rename(warmPath+".tmp", warmPath); err != nil {
		return lat{}, err
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(warmPath + ".error.json"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return lat{}, errors.New("no result for the warm-up file within 2 minutes:\n" + tail(stderr.String()))
		}
	}
	for len(submitted) > 0 {
		<-submitted
	}
	before := emu.Stats().RequestsTotal
	var ds, toSub, afterSub []time.Duration
	fmt.Fprintf(os.Stderr, "latency (%s, %s): %d drops…\n", mode, drop, o.latencyRuns)
	for i := range o.latencyRuns {
		b, err := samples.Generate(o.seed+99, i, 1).PDF()
		if err != nil {
			return lat{}, err
		}
		p := filepath.Join(inbox, fmt.Sprintf("drop-%02d.pdf", i))
		var start time.Time
		switch drop {
		case "rename":
			tmp := filepath.Join(inbox, fmt.Sprintf(".drop-%02d.pdf.tmp", i))
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				return lat{}, err
			}
			start = time.Now()
			if err := os.Rename(tmp, p); err != nil {
				return lat{}, err
			}
		default:
			start = time.Now()
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return lat{}, err
			}
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
		end := time.Now()
		ds = append(ds, end.Sub(start))
		select {
		case at := <-submitted:
			toSub = append(toSub, at.Sub(start))
			afterSub = append(afterSub, end.Sub(at))
		default:
			return lat{}, fmt.Errorf("a result for %s without a submission", p)
		}
		time.Sleep(300 * time.Millisecond)
	}
	q := func(ds []time.Duration, f float64) time.Duration {
		ds = slices.Sorted(slices.Values(ds))
		return ds[min(len(ds)-1, int(math.Ceil(f*float64(len(ds))))-1)]
	}
	l := lat{p50: q(ds, 0.5), p95: q(ds, 0.95), max: q(ds, 1),
		reqPerDoc: float64(emu.Stats().RequestsTotal-before) / float64(len(ds))}
	l.toSubmit.p50, l.toSubmit.p95 = q(toSub, 0.5), q(toSub, 0.95)
	l.afterSubmit.p50, l.afterSubmit.p95 = q(afterSub, 0.5), q(afterSub, 0.95)
	return l, nil
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
