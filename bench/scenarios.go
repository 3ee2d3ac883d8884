//go:build !windows

package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/state"
)

// The scale scenarios: one instance at the ceiling, instances sharing a
// key, a large backlog, a state of a million records. Selected with
// -scenario; each prints its own table.

// windowCounter wraps the emulator and counts, per server window, the
// submissions it accepted.
type windowCounter struct {
	h      http.Handler
	window time.Duration
	mu     sync.Mutex
	per    map[int64]int
	// first and last are when the first and the last accepted submission
	// arrived.
	first, last time.Time
}

func (c *windowCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The emulator admits a request before it reads the body: the time it
	// arrives stands for the window it is counted in.
	at := time.Now()
	sw := &codeWriter{ResponseWriter: w}
	c.h.ServeHTTP(sw, r)
	if r.Method == http.MethodPost && r.URL.Path == "/v1/extractions" && sw.code/100 == 2 {
		c.mu.Lock()
		c.per[at.Truncate(c.window).UnixNano()]++
		if c.first.IsZero() || at.Before(c.first) {
			c.first = at
		}
		if at.After(c.last) {
			c.last = at
		}
		c.mu.Unlock()
	}
}

// full returns the number of windows strictly between the first and the
// last with a submission, and the submissions in them: the steady state,
// without the start-up and the tail.
func (c *windowCounter) full() (windows, subs, lowest int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lo, hi int64 = 1<<63 - 1, 0
	for k := range c.per {
		lo, hi = min(lo, k), max(hi, k)
	}
	lowest = 1 << 30
	for k := lo + int64(c.window); k < hi; k += int64(c.window) {
		windows++
		subs += c.per[k]
		lowest = min(lowest, c.per[k])
	}
	if windows == 0 {
		lowest = 0
	}
	return windows, subs, lowest
}

// timeline describes a run that started at start: when its first
// submission came and how much of that server window was left, the
// submissions of every window from the first to the last, and when the
// last submission came.
func (c *windowCounter) timeline(start time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.IsZero() {
		return "no submission"
	}
	lo := c.first.Truncate(c.window)
	var per []string
	for k := lo; !k.After(c.last); k = k.Add(c.window) {
		per = append(per, strconv.Itoa(c.per[k.UnixNano()]))
	}
	return fmt.Sprintf("first submission %s after the start, %s before its window ended; submissions per window %s; last submission %s after the start",
		fmtDur(c.first.Sub(start)), fmtDur(lo.Add(c.window).Sub(c.first)), strings.Join(per, " "), fmtDur(c.last.Sub(start)))
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// countingServer runs an emulator behind a windowCounter on a loopback port.
func countingServer(o emulator.Options) (*emulator.Emulator, *windowCounter, string, func(), error) {
	emu := emulator.New(o)
	wc := &windowCounter{h: emu, window: o.RateWindow, per: map[int64]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		emu.Close()
		return nil, nil, "", nil, err
	}
	srv := &http.Server{Handler: wc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return emu, wc, "http://" + ln.Addr().String(), func() { srv.Close(); emu.Close() }, nil
}

// writeConfig writes a ppsync.toml for an instance in dir with its inbox
// "inbox" and its state "state.db", logging at level.
func writeConfig(dir, url string, o options, level, extraInbox string) (string, error) {
	scale := float64(o.window) / float64(time.Minute)
	poll := max(time.Duration(float64(5*time.Second)*scale), 100*time.Millisecond)
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
listen = %q
[log]
level = %q
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
recursive = true
settle = "500ms"
%s`, url, key, o.window, poll, cmp.Or(o.adminListen, "off"), level, extraInbox)
	p := filepath.Join(dir, "ppsync.toml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

type runResult struct {
	wall, cpu, user, sys time.Duration
	// rssKiB is the daemon's own peak resident memory: the highest VmHWM
	// read from /proc/PID/status while it runs (every 20 ms). The child's
	// ru_maxrss is not used: Linux carries the resident set the forked
	// copy of this (larger) process had before exec into it.
	rssKiB int64
	// The highest RssAnon (heap, stacks) and RssFile (mapped files: the
	// state) sampled once a second.
	anonKiB, fileKiB int64
}

// runOnce runs `ppsync run --once` to its end.
func runOnce(bin, cfg string) (runResult, error) {
	start := time.Now()
	args := []string{bin, "run", "-c", cfg, "--once"}
	if w := strings.Fields(os.Getenv("PPSYNC_BENCH_WRAP")); len(w) > 0 {
		// A tracer around the daemon alone, e.g. "strace -f -c -o FILE".
		args = append(w, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return runResult{}, fmt.Errorf("ppsync run --once -c %s: %v", cfg, err)
	}
	var anon, file, hwm atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if h := statusKiB(cmd.Process.Pid, "VmHWM:"); h > hwm.Load() {
				hwm.Store(h)
			}
			if i%50 != 0 {
				continue
			}
			if a := statusKiB(cmd.Process.Pid, "RssAnon:"); a > anon.Load() {
				anon.Store(a)
			}
			if f := statusKiB(cmd.Process.Pid, "RssFile:"); f > file.Load() {
				file.Store(f)
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-sampled
	if err != nil {
		return runResult{}, fmt.Errorf("ppsync run --once -c %s: %v\n%s", cfg, err, tail(stderr.String()))
	}
	r := runResult{wall: time.Since(start), user: cmd.ProcessState.UserTime(), sys: cmd.ProcessState.SystemTime(),
		anonKiB: anon.Load(), fileKiB: file.Load(), rssKiB: hwm.Load()}
	r.cpu = r.user + r.sys
	return r, nil
}

// countResults counts the .pdf.json files under dir.
func countResults(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pdf.json") {
			n++
		}
		return err
	})
	return n, err
}

// distinctContents counts the distinct sha256 of the .pdf files under dirs.
func distinctContents(dirs ...string) (int, error) {
	seen := map[string]bool{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".pdf") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			seen[hex.EncodeToString(s[:])] = true
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return len(seen), nil
}

func runScenarios(o options, bin, work string) error {
	for _, s := range o.scenarios {
		var err error
		switch s {
		case "steady":
			err = steady(o, bin, work, "steady", o.steadyFiles)
		case "backlog":
			err = steady(o, bin, work, "backlog", o.backlogFiles)
		case "shared":
			err = shared(o, bin, work)
		case "million":
			err = million(o, bin, work)
		case "copies":
			err = copiesScenario(o, bin, work)
		case "local-limit":
			err = localLimit(o, bin, work)
		case "restart":
			err = restartScenario(o, bin, work)
		case "share":
			err = shareScenario(o, bin, work)
		default:
			err = fmt.Errorf("-scenario %q: want steady, shared, backlog, million, copies, local-limit, restart or share", s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// steady runs one instance on n files and reports the steady-state share
// of the submission ceiling.
func steady(o options, bin, work, name string, n int) error {
	dir := filepath.Join(work, name)
	fmt.Fprintf(os.Stderr, "%s: generating %d PDFs…\n", name, n)
	if _, err := files(filepath.Join(dir, "inbox"), n, o.maxPages, o.seed); err != nil {
		return err
	}
	emu, wc, url, stop, err := countingServer(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30,
		ProcessingTime: scaledProc(o), Workers: o.workers, RateWindow: o.window, TempDir: dir})
	if err != nil {
		return err
	}
	defer stop()
	if o.watchStatus {
		if o.adminListen, err = freeLoopbackAddr(); err != nil {
			return err
		}
	}
	cfg, err := writeConfig(dir, url, o, "info", "")
	if err != nil {
		return err
	}
	var watch *statusWatch
	if o.watchStatus {
		c, err := config.Load(cfg)
		if err != nil {
			return err
		}
		client := admin.NewClient(c)
		watch = watchStatus(func(ctx context.Context) error { _, err := client.Status(ctx); return err }, time.Second)
	}
	fmt.Fprintf(os.Stderr, "%s: ppsync run --once on %d files…\n", name, n)
	r, err := runOnce(bin, cfg)
	if watch != nil {
		watch.stop()
	}
	if err != nil {
		return err
	}
	st := emu.Stats()
	results, err := countResults(filepath.Join(dir, "inbox"))
	if err != nil {
		return err
	}
	windows, subs, lowest := wc.full()
	fmt.Printf("\n%s: one instance, %d files, window %s\n\n", name, n, o.window)
	fmt.Println("| files | results | wall | docs per window, whole run (ceiling 1000) | full windows | submissions per full window (ceiling 20) | lowest | share of the submission ceiling | requests | 429s | peak RSS | CPU time |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	perFull, share := 0.0, 0.0
	if windows > 0 {
		perFull = float64(subs) / float64(windows)
		share = 100 * perFull / 20
	}
	fmt.Printf("| %d | %d | %s | %.0f | %d | %.2f | %d | %.1f %% | %d | %d | %.1f MiB | %s |\n",
		n, results, fmtDur(r.wall), float64(n)/(float64(r.wall)/float64(o.window)), windows, perFull, lowest, share,
		st.RequestsTotal, st.RateLimited, float64(r.rssKiB)/1024, fmtDur(r.cpu))
	fmt.Printf("\nhighest resident memory sampled once a second: RssAnon (heap, stacks) %.1f MiB, RssFile (mapped files: the state, the binary) %.1f MiB\n",
		float64(r.anonKiB)/1024, float64(r.fileKiB)/1024)
	if watch != nil {
		fmt.Println(watch.summary())
	}
	if st.DocumentsCreated != n || results != n {
		return fmt.Errorf("%s: %d files, %d documents created, %d results", name, n, st.DocumentsCreated, results)
	}
	return nil
}

func scaledProc(o options) time.Duration {
	return time.Duration(float64(300*time.Millisecond) * float64(o.window) / float64(time.Minute))
}

// shared runs several instances, each with its own inbox and state, on one
// key against one emulator.
func shared(o options, bin, work string) error {
	k, n := o.instances, o.sharedFiles
	emu, wc, url, stop, err := countingServer(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30,
		ProcessingTime: scaledProc(o), Workers: o.workers, RateWindow: o.window, TempDir: work})
	if err != nil {
		return err
	}
	defer stop()
	var cfgs, inboxes []string
	pages := 0
	for i := range k {
		dir := filepath.Join(work, fmt.Sprintf("shared-%d", i))
		inbox := filepath.Join(dir, "inbox")
		fmt.Fprintf(os.Stderr, "shared: instance %d: generating %d PDFs…\n", i, n)
		p, err := files(inbox, n, o.maxPages, o.seed+uint64(i)*1000003)
		if err != nil {
			return err
		}
		pages += p
		cfg, err := writeConfig(dir, url, o, "info", "")
		if err != nil {
			return err
		}
		cfgs, inboxes = append(cfgs, cfg), append(inboxes, inbox)
	}
	distinct, err := distinctContents(inboxes...)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "shared: %d instances, ppsync run --once each…\n", k)
	results := make([]runResult, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runOnce(bin, cfgs[i])
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	st := emu.Stats()
	done := 0
	for _, in := range inboxes {
		c, err := countResults(in)
		if err != nil {
			return err
		}
		done += c
	}
	windows, subs, lowest := wc.full()
	fmt.Printf("\nshared: %d instances on one key, %d files each, window %s\n\n", k, n, o.window)
	fmt.Println("| instance | wall | peak RSS | CPU time |")
	fmt.Println("|---|---|---|---|")
	for i, r := range results {
		fmt.Printf("| %d | %s | %.1f MiB | %s |\n", i, fmtDur(r.wall), float64(r.rssKiB)/1024, fmtDur(r.cpu))
	}
	perFull, share := 0.0, 0.0
	if windows > 0 {
		perFull = float64(subs) / float64(windows)
		share = 100 * perFull / 20
	}
	fmt.Println()
	fmt.Println("| files | results | distinct contents | documents created | pages charged / pages | wall (all) | full windows | submissions per full window (ceiling 20) | lowest | share of the ceiling | requests | 429s | 429 share |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | %d | %d | %d | %d / %d | %s | %d | %.2f | %d | %.1f %% | %d | %d | %.2f %% |\n",
		k*n, done, distinct, st.DocumentsCreated, st.PagesCharged, pages, fmtDur(wall), windows, perFull, lowest, share,
		st.RequestsTotal, st.RateLimited, 100*float64(st.RateLimited)/float64(max(st.RequestsTotal, 1)))
	if done != k*n || st.DocumentsCreated != distinct {
		return fmt.Errorf("shared: %d files, %d results, %d distinct contents, %d documents created", k*n, done, distinct, st.DocumentsCreated)
	}
	return nil
}

// million builds a state of o.records file records (and as many documents)
// of which o.diskFiles are files on disk, done and unchanged; then runs the
// daemon on it, and prunes and compacts it.
func million(o options, bin, work string) error {
	dir := filepath.Join(work, "million")
	inbox := filepath.Join(dir, "inbox")
	fmt.Fprintf(os.Stderr, "million: generating %d PDFs…\n", o.diskFiles)
	if _, err := files(inbox, o.diskFiles, 1, o.seed); err != nil {
		return err
	}
	statePath := filepath.Join(dir, "state.db")
	t0 := time.Now()
	if err := syntheticState(statePath, inbox, o.records); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "million: state of %d records written in %s\n", o.records, fmtDur(time.Since(t0)))
	// Written in large transactions the file is mostly free pages; a state
	// grown over years is closer to its compacted form.
	written := fileSize(statePath)
	if _, err := state.Compact(statePath, 5*time.Second); err != nil {
		return err
	}
	sizeBefore := fileSize(statePath)
	full, open, err := recoveryScans(statePath)
	if err != nil {
		return err
	}

	_, url, stop, err := server(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30, TempDir: dir, RateWindow: o.window})
	if err != nil {
		return err
	}
	defer stop()
	cfg, err := writeConfig(dir, url, o, "info", "rescan_interval = \"5s\"\n")
	if err != nil {
		return err
	}
	d, err := daemonRun(bin, cfg, o.diskFiles)
	if err != nil {
		return err
	}

	s, err := state.Open(statePath, 5*time.Second)
	if err != nil {
		return err
	}
	t1 := time.Now()
	ps, err := s.Prune(context.Background(), time.Now(), state.DefaultRetention, func(p string) bool {
		_, err := os.Lstat(p)
		return err == nil
	})
	pruneWall := time.Since(t1)
	if err != nil {
		s.Close()
		return err
	}
	sp, _ := s.Space()
	s.Close()
	t2 := time.Now()
	cs, err := state.Compact(statePath, 5*time.Second)
	if err != nil {
		return err
	}
	compactWall := time.Since(t2)
	fmt.Printf("\nmillion: %d file records (and %d documents), %d of them files on disk, window %s\n\n", o.records, o.records, o.diskFiles, o.window)
	fmt.Printf("state as written %.1f MiB, compacted %.1f MiB; recovery reads: every file and document record %s, only the open-records index %s\n\n",
		mib(written), mib(sizeBefore), fmtDur(full), fmtDur(open))
	fmt.Printf("the daemon's own prune: %s\n\n", d.pruned)
	fmt.Println("| start to \"watching\" | start to idle | peak RSS | highest RssAnon sampled | CPU per rescan of the files on disk (idle daemon) | state before | prune after the run | removed files / docs | free after prune | compact | state after |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %s | %s | %.1f MiB | %.1f MiB | %s | %.1f MiB | %s | %d / %d | %.1f MiB | %s | %.1f MiB |\n",
		fmtDur(d.watching), fmtDur(d.idle), float64(d.rssKiB)/1024, float64(d.anonKiB)/1024, fmtDur(d.rescanCPU), mib(sizeBefore),
		fmtDur(pruneWall), ps.Files, ps.Docs, mib(sp.FreeBytes), fmtDur(compactWall), mib(cs.After))
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// syntheticState writes records file records: the files under inbox as
// done ten days ago and unchanged, the rest done 400 days ago and deleted
// since; each with its document and a small result.
func syntheticState(path, inbox string, records int) error {
	var onDisk []string
	if err := filepath.WalkDir(inbox, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pdf") {
			onDisk = append(onDisk, p)
		}
		return err
	}); err != nil {
		return err
	}
	s, err := state.Open(path, 5*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now()
	result := []byte(`{"document_id":"doc_x","filename":"invoice.pdf","status":"completed","page_count":1,"result":{"invoice_number":"INV-000000","total":123.45,"currency":"EUR","vendor":"Example GmbH"}}`)
	const perTx = 20000
	for lo := 0; lo < records; lo += perTx {
		if err := s.Update(func(tx *state.Tx) error {
			for i := lo; i < min(lo+perTx, records); i++ {
				sum := sha256.Sum256([]byte(strconv.Itoa(i)))
				sha := hex.EncodeToString(sum[:])
				f := state.File{Inbox: inbox, ParserID: "prs_invoice", SHA256: sha, Pages: 1, State: state.FileDone,
					FirstSeen: now.Add(-400 * 24 * time.Hour), Updated: now.Add(-400 * 24 * time.Hour)}
				if i < len(onDisk) {
					fi, err := os.Stat(onDisk[i])
					if err != nil {
						return err
					}
					f.Path, f.Size, f.ModTime = onDisk[i], fi.Size(), fi.ModTime().UnixNano()
					f.Updated = now.Add(-10 * 24 * time.Hour)
				} else {
					f.Path = filepath.Join(inbox, "archive", fmt.Sprintf("%04d", i/1000), fmt.Sprintf("scan-%07d.pdf", i))
					f.Size = 20000
				}
				f.Result = f.Path + ".json"
				if err := tx.RestoreFile(f); err != nil {
					return err
				}
				if err := tx.RestoreDoc(state.Doc{Key: state.DocKey("prs_invoice", sha), ParserID: "prs_invoice", SHA256: sha,
					Size: f.Size, Pages: 1, State: state.DocDone, Files: []string{f.Path}, ExtractionID: "ext_x", DocumentID: "doc_x",
					Result: result, Updated: f.Updated}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

type daemonFigures struct {
	watching, idle time.Duration
	rssKiB         int64
	anonKiB        int64  // the highest RssAnon sampled once a second: heap and stacks, not the state's mapped pages
	pruned         string // the daemon's own "pruned the state file" line
	rescanCPU      time.Duration
}

// daemonRun starts `ppsync run`, times its start-up to the first "watching
// inbox" line, waits until it is idle, measures the CPU it spends over
// four 5 s rescan intervals, and stops it.
func daemonRun(bin, cfg string, diskFiles int) (daemonFigures, error) {
	var d daemonFigures
	start := time.Now()
	cmd := exec.Command(bin, "run", "-c", cfg)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return d, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return d, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	lg := followLog(pipe, func(line string) {
		if strings.Contains(line, "pruned the state file") {
			d.pruned = line
		}
	})
	select {
	case <-lg.watching:
		d.watching = time.Since(start)
	case <-time.After(5 * time.Minute):
		return d, fmt.Errorf("million: no \"watching inbox\" within 5 minutes:\n%s", lg.tail())
	}
	pid := cmd.Process.Pid
	// Idle: two seconds in a row under 5 % of a core.
	last, _ := cpuOf(pid)
	calm := 0
	for calm < 2 {
		time.Sleep(time.Second)
		d.anonKiB = max(d.anonKiB, statusKiB(pid, "RssAnon:"))
		now, err := cpuOf(pid)
		if err != nil {
			return d, err
		}
		if now-last < 50*time.Millisecond {
			calm++
		} else {
			calm = 0
		}
		last = now
		if time.Since(start) > 10*time.Minute {
			return d, fmt.Errorf("million: daemon not idle after 10 minutes")
		}
	}
	d.idle = time.Since(start)
	c0, _ := cpuOf(pid)
	for range 20 {
		time.Sleep(time.Second)
		d.anonKiB = max(d.anonKiB, statusKiB(pid, "RssAnon:"))
	}
	c1, err := cpuOf(pid)
	if err != nil {
		return d, err
	}
	d.rescanCPU = (c1 - c0) / 4
	d.rssKiB = peakRSS(pid)
	lg.locked(func() {}) // d.pruned is written under the log's lock
	return d, nil
}

// cpuOf reads a process's user+system CPU time from /proc.
func cpuOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// statusKiB reads one kB field of /proc/PID/status (0 when absent).
func statusKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// peakRSS reads VmHWM from /proc.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// recoveryScans times, in this process, a read of every file and document
// record (what recovery does today) and a read of the open-records index.
func recoveryScans(path string) (full, open time.Duration, err error) {
	s, err := state.Open(path, 5*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	t := time.Now()
	if err := s.View(func(tx *state.Tx) error {
		if err := tx.Files(func(state.File) error { return nil }); err != nil {
			return err
		}
		return tx.Docs(func(state.Doc) error { return nil })
	}); err != nil {
		return 0, 0, err
	}
	full = time.Since(t)
	t = time.Now()
	if err := s.View(func(tx *state.Tx) error {
		if err := tx.OpenFiles(func(state.File) error { return nil }); err != nil {
			return err
		}
		return tx.OpenDocs(func(state.Doc) error { return nil })
	}); err != nil {
		return 0, 0, err
	}
	return full, time.Since(t), nil
}

// liftedServer starts an emulator with the API's limits lifted (a 10 ms
// rate window, credits without end, no processing time) and writes the
// config of a run in dir against it, with extraInbox's TOML added.
func liftedServer(o options, dir, extraInbox string) (*emulator.Emulator, string, func(), error) {
	lifted := o
	lifted.window = 10 * time.Millisecond
	// The emulator reads a zero processing time as its default (300 ms a
	// page); a nanosecond is none.
	emu, url, stop, err := server(emulator.Options{APIKeys: []string{key}, Credits: 1 << 30, Workers: o.workers,
		ProcessingTime: time.Nanosecond, RateWindow: lifted.window, TempDir: dir})
	if err != nil {
		return nil, "", nil, err
	}
	cfg, err := writeConfig(dir, url, lifted, "warn", extraInbox)
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	return emu, cfg, stop, nil
}
