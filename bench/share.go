//go:build !windows

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/smbtest"
)

// The share scenario: a real Samba share (internal/smbtest: smbd on a
// loopback port, mounted through smbnetfs), the daemon (`ppsync run`, the
// real binary, default settle and rescan_interval) on an inbox on it, and
// N files dropped at once on the server's side (another machine writing
// to the share). For each N: the wall time from the first drop to the last
// result, its ratio to the smallest N's, drop to result p50 and p95
// measured here (each file from its drop to its result appearing on the
// server) and the p95 the daemon reports on its status page, the daemon's
// CPU, its rescans, and what a rescan costs.

// shareRun is one size's figures.
type shareRun struct {
	n               int
	wall            time.Duration
	p50, p95, p95of time.Duration // p95of: over the last results the page keeps
	keptBy          int           // how many results p95of is over
	page50, page95  float64
	pageSamples     int
	cpu             time.Duration
	smbdCPU         time.Duration // the server's processes
	fuseCPU         time.Duration // smbnetfs's
	rescans         int
	cadence         []string // the daemon's "listed at a new pace" lines
	idleRescans     int
	idleCPU         time.Duration
	listing, sweep  time.Duration
	entries, docs   int
	// hit and miss are the median times of a stat of a name that is in
	// the folder and of one that is not (a result or temp file about to be
	// written): a case-insensitive server looks for a missing name through
	// the whole folder.
	hit, miss time.Duration
}

// pageKeeps is how many latest results the page's percentiles are over
// (internal/activity's maxLatency).
const pageKeeps = 1024

func shareScenario(o options, bin, work string) error {
	var sizes []int
	for _, f := range strings.Split(o.shareFiles, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("-share-files %q: want positive whole numbers", o.shareFiles)
		}
		sizes = append(sizes, n)
	}
	if why := smbtest.Missing(); why != "" {
		return fmt.Errorf("-scenario share needs a real SMB share: %s", why)
	}
	tb := &benchTB{}
	defer tb.cleanup()
	var s *smbtest.Share
	if err := tb.do(func() { s = smbtest.StartWith(tb, smbtest.Options{CaseSensitive: o.shareCase}) }); err != nil {
		return err
	}
	_, url, stop, err := server(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30, ProcessingTime: scaledProc(o),
		Workers: o.workers, RateWindow: o.window, TempDir: work})
	if err != nil {
		return err
	}
	defer stop()
	var runs []shareRun
	for _, n := range sizes {
		r, err := shareOne(o, bin, work, tb, s, url, n)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	kind := "case-insensitive (Samba's default)"
	if o.shareCase {
		kind = "case sensitive = yes"
	}
	fmt.Printf("\nshare: the daemon on an inbox on a Samba share (%s) mounted through smbnetfs (FUSE), default settle (2s) and rescan_interval (1m); "+
		"N files of one page dropped at once on the server's side; window %s, %s per page\n\n", kind, o.window, scaledProc(o))
	fmt.Println("| files | wall, first drop to last result | ratio to the smallest | drop→result p50 / p95 (measured) | p95 of the last results the page keeps | page p95 (daemon) | page vs measured | CPU: daemon / smbd / smbnetfs | rescans during the run |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range runs {
		fmt.Printf("| %d | %s | %.2f | %s / %s | %s (last %d) | %.2fs (%d results) | %+.1f %% | %s / %s / %s | %d |\n",
			r.n, fmtDur(r.wall), float64(r.wall)/float64(runs[0].wall), fmtDur(r.p50), fmtDur(r.p95), fmtDur(r.p95of), r.keptBy,
			r.page95, r.pageSamples, 100*(r.page95-r.p95of.Seconds())/r.p95of.Seconds(), fmtDur(r.cpu), fmtDur(r.smbdCPU), fmtDur(r.fuseCPU), r.rescans)
	}
	fmt.Println("\nwhat a rescan costs, the folder holding every file and its result:")
	fmt.Println()
	fmt.Println("| files | entries | listing by name (what a light listing does) | listing + a stat per document (a sweep) | idle daemon: rescans in 12 s | idle daemon CPU per rescan (all it does idle) | stat of a name there / not there (median) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range runs {
		per := "–"
		if r.idleRescans > 0 {
			per = (r.idleCPU / time.Duration(r.idleRescans)).Round(100 * time.Microsecond).String()
		}
		fmt.Printf("| %d | %d | %s | %s | %d | %s | %s / %s |\n", r.n, r.entries, fmtDur(r.listing), fmtDur(r.sweep), r.idleRescans, per,
			r.hit.Round(time.Microsecond), r.miss.Round(time.Microsecond))
	}
	for _, r := range runs {
		for _, l := range r.cadence {
			fmt.Printf("\n%d files, the daemon's pace: %s", r.n, l)
		}
	}
	fmt.Println()
	return nil
}

// shareOne runs the daemon on n files dropped into a folder of its own on
// the share.
func shareOne(o options, bin, work string, tb *benchTB, s *smbtest.Share, url string, n int) (shareRun, error) {
	r := shareRun{n: n}
	sub := fmt.Sprintf("share-%d", n)
	dir := filepath.Join(work, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	if err := os.MkdirAll(filepath.Join(s.Folder, sub), 0o777); err != nil {
		return r, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	listen := ln.Addr().String()
	ln.Close()
	scale := float64(o.window) / float64(time.Minute)
	poll := max(time.Duration(float64(5*time.Second)*scale), 100*time.Millisecond)
	cfgText := fmt.Sprintf(`[api]
base_url = %q
api_key = %q
rate_window = %q
[state]
path = "state.db"
[poll]
interval = %q
[admin]
listen = %q
[log]
level = "info"
[[inbox]]
path = %q
parser_id = "prs_invoice"
`, url, key, o.window, poll, listen, filepath.Join(s.Mount, sub))
	cfgPath := filepath.Join(dir, "ppsync.toml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "share: generating %d PDFs…\n", n)
	pdfs := make([][]byte, n)
	for i := range pdfs {
		b, err := samples.Generate(o.seed, i, 1).PDF()
		if err != nil {
			return r, err
		}
		pdfs[i] = b
	}

	cmd := exec.Command(bin, "run", "-c", cfgPath)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return r, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return r, err
	}
	stopped := false
	stopDaemon := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}
	}
	defer stopDaemon()
	var cadence []string // under lg's lock
	lg := followLog(pipe, func(line string) {
		if strings.Contains(line, "listing_every") {
			cadence = append(cadence, line)
		}
	})
	logs := lg.tail
	select {
	case <-lg.watching:
	case <-time.After(2 * time.Minute):
		return r, fmt.Errorf("share: no \"watching inbox\" within 2 minutes:\n%s", logs())
	}
	admin := adminClient{listen: listen, tokenFile: config.AdminTokenFile(filepath.Join(dir, "state.db"))}
	pid := cmd.Process.Pid
	srv0, fuse0 := cpuOfShare(s)
	cpu0, _ := cpuOf(pid)
	rescans0, err := admin.rescans()
	if err != nil {
		return r, err
	}

	fmt.Fprintf(os.Stderr, "share: dropping %d files on the server's side…\n", n)
	name := func(i int) string { return fmt.Sprintf("invoice-%05d.pdf", i) }
	dropped := make(map[string]time.Time, n)
	for i := range n {
		nm := name(i)
		dropped[nm] = time.Now()
		if err := tb.do(func() { s.WriteDirect(sub+"/"+nm, pdfs[i]) }); err != nil {
			return r, err
		}
	}
	first := dropped[name(0)]
	done := make(map[string]time.Time, n)
	var order []string // results in the order they appeared
	deadline := time.Now().Add(30 * time.Minute)
	for len(done) < n {
		entries, err := os.ReadDir(filepath.Join(s.Folder, sub))
		if err != nil {
			return r, err
		}
		now := time.Now()
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".error.json") {
				return r, fmt.Errorf("share: an error file %s:\n%s", e.Name(), logs())
			}
			if src, ok := strings.CutSuffix(e.Name(), ".json"); ok && strings.HasSuffix(src, ".pdf") {
				if _, seen := done[src]; !seen {
					done[src] = now
					order = append(order, src)
				}
			}
		}
		if now.After(deadline) {
			return r, fmt.Errorf("share: %d of %d results after 30 minutes:\n%s", len(done), n, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var last time.Time
	lat := make([]time.Duration, 0, n)
	for _, nm := range order {
		lat = append(lat, done[nm].Sub(dropped[nm]))
		last = later(last, done[nm])
	}
	r.wall = last.Sub(first)
	r.p50, r.p95 = nearestRank(lat, 50), nearestRank(lat, 95)
	r.keptBy = min(n, pageKeeps)
	r.p95of = nearestRank(lat[len(lat)-r.keptBy:], 95)
	cpu1, _ := cpuOf(pid)
	r.cpu = cpu1 - cpu0
	srv1, fuse1 := cpuOfShare(s)
	r.smbdCPU, r.fuseCPU = srv1.since(srv0), fuse1.since(fuse0)
	rescans1, err := admin.rescans()
	if err != nil {
		return r, err
	}
	r.rescans = rescans1 - rescans0

	// The page's figures, once it counts every result.
	for wait := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		a, err := admin.activity()
		if err != nil {
			return r, err
		}
		r.page50, r.page95, r.pageSamples = a.P50, a.P95, a.Samples
		if a.Samples >= r.keptBy || time.Now().After(wait) {
			break
		}
	}

	// Idle: only the rescans run. The daemon's CPU over 12 s, per rescan.
	time.Sleep(2 * time.Second)
	c0, _ := cpuOf(pid)
	i0, err := admin.rescans()
	if err != nil {
		return r, err
	}
	time.Sleep(12 * time.Second)
	c1, _ := cpuOf(pid)
	i1, err := admin.rescans()
	if err != nil {
		return r, err
	}
	r.idleRescans, r.idleCPU = i1-i0, c1-c0
	stopDaemon()
	lg.locked(func() { r.cadence = slices.Clone(cadence) })

	// What a listing and a sweep of this folder cost, timed here on the
	// same mount (best of three each).
	folder := filepath.Join(s.Mount, sub)
	r.listing, r.sweep = time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range 3 {
		t := time.Now()
		names, err := readNamesOf(folder)
		if err != nil {
			return r, err
		}
		r.listing = min(r.listing, time.Since(t))
		r.entries = len(names)
		t = time.Now()
		names, err = readNamesOf(folder)
		if err != nil {
			return r, err
		}
		r.docs = 0
		for _, nm := range names {
			if strings.HasSuffix(nm, ".pdf") {
				if _, err := os.Lstat(filepath.Join(folder, nm)); err != nil {
					return r, err
				}
				r.docs++
			}
		}
		r.sweep = min(r.sweep, time.Since(t))
	}
	var hits, misses []time.Duration
	for i := range 31 {
		t := time.Now()
		_, _ = os.Lstat(filepath.Join(folder, fmt.Sprintf("invoice-%05d.pdf", i*n/31)))
		hits = append(hits, time.Since(t))
		t = time.Now()
		if _, err := os.Lstat(filepath.Join(folder, fmt.Sprintf("absent-%05d.pdf.json", i))); err == nil {
			return r, fmt.Errorf("share: absent-%05d.pdf.json exists", i)
		}
		misses = append(misses, time.Since(t))
	}
	r.hit, r.miss = nearestRank(hits, 50), nearestRank(misses, 50)
	return r, nil
}

// cpuTimes is the CPU time of each of a set of processes.
type cpuTimes map[int]time.Duration

// since is the CPU the processes spent since before (a process that was
// not there then counts from zero; one gone since is lost).
func (c cpuTimes) since(before cpuTimes) time.Duration {
	var d time.Duration
	for pid, t := range c {
		d += t - before[pid]
	}
	return d
}

// cpuOfShare is the CPU time of the share's server and of its mount's
// FUSE server, per process.
func cpuOfShare(s *smbtest.Share) (server, fuse cpuTimes) {
	server, fuse = cpuTimes{}, cpuTimes{}
	srv, fs := s.Processes()
	for _, p := range srv {
		if c, err := cpuOf(p); err == nil {
			server[p] = c
		}
	}
	for _, p := range fs {
		if c, err := cpuOf(p); err == nil {
			fuse[p] = c
		}
	}
	return server, fuse
}

func readNamesOf(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// nearestRank is the nearest-rank percentile, as the daemon computes it.
func nearestRank(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	return s[max((p*len(s)+99)/100, 1)-1]
}

// adminClient reads the daemon's admin endpoint with the token it writes
// for local clients.
type adminClient struct{ listen, tokenFile string }

func (a adminClient) get(path string) ([]byte, error) {
	tok, err := os.ReadFile(a.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("read the daemon's admin token: %w", err)
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+a.listen+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b, nil
}

// rescans is ppsync_watcher_rescans_total, summed over the inboxes.
func (a adminClient) rescans() (int, error) {
	b, err := a.get("/metrics")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "ppsync_watcher_rescans_total"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, err := strconv.ParseFloat(f[len(f)-1], 64)
				if err != nil {
					return 0, fmt.Errorf("/metrics: %q: %w", l, err)
				}
				n += int(v)
			}
		}
	}
	return n, nil
}

type pageActivity struct {
	Samples int     `json:"latency_samples"`
	P50     float64 `json:"latency_p50_seconds"`
	P95     float64 `json:"latency_p95_seconds"`
}

// activity is the page's drop-to-result figures (/ui/api/overview).
func (a adminClient) activity() (pageActivity, error) {
	b, err := a.get("/ui/api/overview")
	if err != nil {
		return pageActivity{}, err
	}
	var ov struct {
		Activity *pageActivity `json:"activity"`
	}
	if err := json.Unmarshal(b, &ov); err != nil {
		return pageActivity{}, err
	}
	if ov.Activity == nil {
		return pageActivity{}, errors.New("/ui/api/overview has no activity")
	}
	return *ov.Activity, nil
}

// benchTB lets the bench start a share (smbtest.Start wants a test): a
// fatal error unwinds to do, which returns it; cleanups run at the end.
type benchTB struct {
	cleanups []func()
}

type benchFatal struct{ msg string }

func (b *benchTB) do(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			bf, ok := v.(benchFatal)
			if !ok {
				panic(v)
			}
			err = errors.New(bf.msg)
		}
	}()
	f()
	return nil
}

func (b *benchTB) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		_ = b.do(b.cleanups[i])
	}
}

func (b *benchTB) Helper()          {}
func (b *benchTB) Cleanup(f func()) { b.cleanups = append(b.cleanups, f) }
func (b *benchTB) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "share: "+format+"\n", args...)
}
func (b *benchTB) Fatal(args ...any) { panic(benchFatal{fmt.Sprint(args...)}) }
func (b *benchTB) Fatalf(format string, args ...any) {
	panic(benchFatal{fmt.Sprintf(format, args...)})
}
func (b *benchTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "share: "+format+"\n", args...)
}
func (b *benchTB) Skipf(format string, args ...any) {
	panic(benchFatal{fmt.Sprintf(format, args...)})
}
