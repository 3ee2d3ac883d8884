package watcher_test

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/testlog"
	"github.com/ppsync/ppsync/internal/watcher"
)

func inbox(t *testing.T, mutate func(*watcher.Inbox)) watcher.Inbox {
	t.Helper()
	in := watcher.Inbox{
		Path: t.TempDir(), ParserID: "prs", Include: []string{"*.pdf"}, Exclude: config.DefaultExclude(),
		Settle: 150 * time.Millisecond, IncompleteAfter: time.Second,
		RescanInterval: 300 * time.Millisecond, Watch: watcher.WatchAuto,
	}
	if mutate != nil {
		mutate(&in)
	}
	return in
}

type run struct {
	t      *testing.T
	w      *watcher.Watcher
	events chan watcher.Event
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, in watcher.Inbox, once bool) *run {
	t.Helper()
	w := watcher.New(watcher.Options{Inbox: in, Once: once})
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{t: t, w: w, events: make(chan watcher.Event, 100), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx, r.events) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *run) next(timeout time.Duration) (watcher.Event, bool) {
	select {
	case ev := <-r.events:
		return ev, true
	case <-time.After(timeout):
		return watcher.Event{}, false
	}
}

func (r *run) expect(kind watcher.Kind, path string) watcher.Event {
	r.t.Helper()
	ev, ok := r.next(5 * time.Second)
	if !ok {
		r.t.Fatalf("no event, want %s %s", kind, path)
	}
	if ev.Kind != kind || ev.Path != path {
		r.t.Fatalf("event %s %s, want %s %s", ev.Kind, ev.Path, kind, path)
	}
	return ev
}

func (r *run) quiet(d time.Duration) {
	r.t.Helper()
	if ev, ok := r.next(d); ok {
		r.t.Fatalf("unexpected event %s %s", ev.Kind, ev.Path)
	}
}

func pdf(t *testing.T) []byte {
	t.Helper()
	b, err := samples.Generate(1, 1, 1).PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStartupScanSettlesAndFiltersOnce(t *testing.T) {
	for _, mode := range []string{watcher.WatchAuto, watcher.WatchPoll} {
		t.Run(mode, func(t *testing.T) {
			in := inbox(t, func(i *watcher.Inbox) { i.Watch = mode })
			good := filepath.Join(in.Path, "Invoice.PDF")
			write(t, good, pdf(t))
			for _, name := range []string{"Invoice.PDF.json", "x.pdf.error.json", ".Invoice.PDF.json.ppsync-ab12.tmp",
				"~$draft.pdf", ".hidden.pdf", "scan.pdf.part", "dl.pdf.crdownload", "notes.txt"} {
				write(t, filepath.Join(in.Path, name), pdf(t))
			}
			started := time.Now()
			r := start(t, in, false)
			ev := r.expect(watcher.Ready, good)
			if time.Since(started) < in.Settle {
				t.Errorf("start-up file reported before it settled")
			}
			if ev.Size != int64(len(pdf(t))) {
				t.Errorf("size = %d", ev.Size)
			}
			r.quiet(800 * time.Millisecond) // rescans do not report it again
			// Dropped while running.
			later := filepath.Join(in.Path, "later.pdf")
			write(t, later, pdf(t))
			r.expect(watcher.Ready, later)
			// Deleted.
			if err := os.Remove(later); err != nil {
				t.Fatal(err)
			}
			r.expect(watcher.Gone, later)
			if s := r.w.Status(); !s.Healthy || s.Mode == "" {
				t.Errorf("status = %+v", s)
			}
		})
	}
}

func TestGrowingFileIsReportedOnceComplete(t *testing.T) {
	in := inbox(t, nil)
	r := start(t, in, false)
	p := filepath.Join(in.Path, "slow.pdf")
	full := pdf(t)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	step := len(full) / 6
	for i := 0; i < len(full); i += step {
		_, _ = f.Write(full[i:min(i+step, len(full))])
		time.Sleep(100 * time.Millisecond)
		if ev, ok := r.next(0); ok {
			t.Fatalf("reported while still being written: %s at %d bytes", ev.Kind, ev.Size)
		}
	}
	f.Close()
	ev := r.expect(watcher.Ready, p)
	if ev.Size != int64(len(full)) {
		t.Fatalf("reported at %d bytes, want %d", ev.Size, len(full))
	}
}

func TestIncompleteAndEmptyFilesWaitThenReport(t *testing.T) {
	in := inbox(t, nil)
	half := filepath.Join(in.Path, "half.pdf")
	write(t, half, pdf(t)[:500])
	empty := filepath.Join(in.Path, "empty.pdf")
	write(t, empty, nil)
	r := start(t, in, false)
	r.quiet(in.IncompleteAfter / 2)
	if st := r.w.Status(); st.Settling != 2 || st.Incomplete != 2 {
		t.Errorf("while waiting for %%%%EOF: settling %d, incomplete %d; want 2 and 2", st.Settling, st.Incomplete)
	}
	got := map[string]watcher.Event{}
	for range 2 {
		ev, ok := r.next(3 * time.Second)
		if !ok {
			t.Fatal("incomplete files never reported")
		}
		got[ev.Path] = ev
	}
	for _, p := range []string{half, empty} {
		if ev := got[p]; ev.Kind != watcher.Incomplete || ev.Reason == "" {
			t.Errorf("%s: %+v", p, ev)
		}
	}
	// Finishing the file starts a new life.
	write(t, half, pdf(t))
	r.expect(watcher.Ready, half)
}

func TestOnceReportsIncompleteAtOnceAndReturns(t *testing.T) {
	in := inbox(t, nil)
	write(t, filepath.Join(in.Path, "ok.pdf"), pdf(t))
	write(t, filepath.Join(in.Path, "cut.pdf"), pdf(t)[:400])
	r := start(t, in, true)
	kinds := map[watcher.Kind]int{}
	for range 2 {
		ev, ok := r.next(3 * time.Second)
		if !ok {
			t.Fatal("missing event")
		}
		kinds[ev.Kind]++
	}
	if kinds[watcher.Ready] != 1 || kinds[watcher.Incomplete] != 1 {
		t.Fatalf("events = %v", kinds)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
		r.done <- nil
	case <-time.After(patience.Scale(3 * time.Second)):
		t.Fatal("once mode did not return")
	}
}

func TestRecursiveWatchesNewSubfolders(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.Recursive = true; i.RescanInterval = time.Hour })
	r := start(t, in, false)
	time.Sleep(100 * time.Millisecond)
	p := filepath.Join(in.Path, "2026", "11", "deep.pdf")
	write(t, p, pdf(t))
	r.expect(watcher.Ready, p) // found through events alone: the rescan is an hour away
	q := filepath.Join(in.Path, "2026", "11", "second.pdf")
	write(t, q, pdf(t))
	r.expect(watcher.Ready, q)
}

func TestUnreachableInboxIsAnErrorNotEmpty(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.Watch = watcher.WatchPoll })
	p := filepath.Join(in.Path, "a.pdf")
	write(t, p, pdf(t))
	r := start(t, in, false)
	r.expect(watcher.Ready, p)
	away := in.Path + ".away"
	if err := os.Rename(in.Path, away); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for r.w.Status().Healthy {
		if time.Now().After(deadline) {
			t.Fatal("unreachable inbox still healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := r.w.Status(); s.Error == "" {
		t.Errorf("status = %+v", s)
	}
	r.quiet(700 * time.Millisecond) // no Gone: a share that blinked is not empty
	if err := os.Rename(away, in.Path); err != nil {
		t.Fatal(err)
	}
	for !r.w.Status().Healthy {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("inbox never recovered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.quiet(500 * time.Millisecond) // the unchanged file is not reported again
}

func TestSymlinksAreNotFollowed(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.Recursive = true })
	outside := t.TempDir()
	write(t, filepath.Join(outside, "secret.pdf"), pdf(t))
	if err := os.Symlink(filepath.Join(outside, "secret.pdf"), filepath.Join(in.Path, "link.pdf")); err != nil {
		t.Skip("SKIPPED: symlinks not supported here:", err)
	}
	if err := os.Symlink(outside, filepath.Join(in.Path, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(in.Path, filepath.Join(in.Path, "loop")); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(in.Path, "real.pdf")
	write(t, real, pdf(t))
	r := start(t, in, false)
	r.expect(watcher.Ready, real)
	r.quiet(600 * time.Millisecond)
}

func TestForgetReportsAgain(t *testing.T) {
	in := inbox(t, nil)
	p := filepath.Join(in.Path, "a.pdf")
	write(t, p, pdf(t))
	r := start(t, in, false)
	r.expect(watcher.Ready, p)
	r.w.Forget(p)
	r.expect(watcher.Ready, p)
}

// The settle tick runs only while files settle: once the inbox's files
// are reported, an idle watcher does not wake on it (it wakes for events,
// scans and Forget, which TestForgetReportsAgain covers).
func TestIdleWatcherDoesNotTick(t *testing.T) {
	in := inbox(t, nil)
	p := filepath.Join(in.Path, "a.pdf")
	write(t, p, pdf(t))
	r := start(t, in, false)
	r.expect(watcher.Ready, p)
	if r.w.SettleTicks() == 0 {
		t.Fatal("no settle tick before the file was reported")
	}
	r.quiet(50 * time.Millisecond)
	before := r.w.SettleTicks()
	// 600 ms is 24 ticks of 25 ms, and two rescans.
	r.quiet(600 * time.Millisecond)
	if got := r.w.SettleTicks() - before; got > 1 {
		t.Errorf("%d settle ticks in 600 ms with nothing settling, want none", got)
	}
	// A new file starts the tick again.
	q := filepath.Join(in.Path, "b.pdf")
	write(t, q, pdf(t))
	r.expect(watcher.Ready, q)
}

func TestFilterFiles(t *testing.T) {
	root := t.TempDir()
	in := watcher.Inbox{Path: root, Include: []string{"*.pdf", "scans/**/*.tif"}, Exclude: append(config.DefaultExclude(), "drafts/**", "**/old/*.pdf")}
	f := watcher.NewFilter(in)
	for rel, want := range map[string]bool{
		"a.pdf": true, "A.PDF": true, "scan 01.Pdf": true, "a.pdf.json": false, "~$a.pdf": false,
		".a.pdf": false, "a.pdf.part": false, "a.pdf.tmp": false, "a.txt": false, "thumbs.db": false,
		"sub/a.pdf": true, "scans/x/y.tif": true, "y.tif": false, "drafts/a.pdf": false,
		"x/old/a.pdf": false, "old/a.pdf": false, "x/older/a.pdf": true,
	} {
		if got := f.File(filepath.Join(root, filepath.FromSlash(rel))); got != want {
			t.Errorf("File(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestFilterPrunesFolders(t *testing.T) {
	root := t.TempDir()
	in := watcher.Inbox{Path: root, Include: []string{"*.pdf"}, Exclude: append(config.DefaultExclude(), "archive/**", "Private"),
		ProcessedDir: filepath.Join(root, "done")}
	f := watcher.NewFilter(in)
	for rel, want := range map[string]bool{
		"#recycle": true, "a/#RECYCLE": true, "@eaDir": true, "$RECYCLE.BIN": true, "System Volume Information": true,
		".snapshot": true, "~snapshot": true, ".Trash-1000": true, "@Recently-Snapshot": true, ".hidden": true,
		"archive": true, "x/archive": false, "private": true, "x/Private": true, "done": true, "invoices": false, "2024/03": false,
	} {
		if got := f.SkipDir(filepath.Join(root, filepath.FromSlash(rel))); got != want {
			t.Errorf("SkipDir(%q) = %v, want %v", rel, got, want)
		}
	}
	if !f.Inside(filepath.Join(root, "#recycle", "deep", "a.pdf")) || f.Inside(filepath.Join(root, "ok", "a.pdf")) {
		t.Error("Inside does not see the pruned folder above a path")
	}
}

// nasTree writes a recursive inbox with the trash, snapshot and metadata
// folders of NAS and desktop systems, each holding a valid PDF, and returns
// the two real documents.
func nasTree(t *testing.T, root string) []string {
	t.Helper()
	junk := []string{"#recycle/deleted.pdf", "#recycle/sub/old.pdf", "@eaDir/a.pdf/SYNOPDF_THUMB.pdf", "@Recycle/b.pdf",
		"@Recently-Snapshot/GMT+01_2024/c.pdf", ".@__thumb/d.pdf", "$RECYCLE.BIN/S-1-5-21/e.pdf",
		"System Volume Information/f.pdf", ".snapshot/hourly.0/g.pdf", "~snapshot/h.pdf", ".Trash-1000/files/i.pdf",
		".AppleDouble/j.pdf", ".TemporaryItems/k.pdf", "dept/#recycle/l.pdf", "dept/@eaDir/m.pdf", ".hidden/a.pdf"}
	real := []string{"invoice.pdf", "dept/2024/march.pdf"}
	for _, rel := range append(junk, real...) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, pdf(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for _, rel := range real {
		want = append(want, filepath.Join(root, filepath.FromSlash(rel)))
	}
	slices.Sort(want)
	return want
}

func TestWalkSkipsNASFoldersAndHiddenFolders(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.Recursive = true })
	want := nasTree(t, in.Path)
	var got []string
	err := watcher.Walk(context.Background(), in, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walk %s: %v", p, err)
			return nil
		}
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Walk found %q, want only %q", got, want)
	}
	if err := watcher.Walk(context.Background(), inbox(t, func(i *watcher.Inbox) { i.Path = filepath.Join(i.Path, "gone") }),
		func(string, fs.DirEntry, error) error { return nil }); err == nil {
		t.Fatal("walking a missing inbox is not an error")
	}
}

func TestRecursiveInboxReportsNoNASFolderFiles(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.Recursive = true })
	want := nasTree(t, in.Path)
	r := start(t, in, true)
	var got []string
	for {
		ev, ok := r.next(5 * time.Second)
		if !ok {
			break
		}
		got = append(got, ev.Path)
		if len(got) == len(want) {
			// Anything after the two documents is a file the filters should have pruned.
			if ev, ok := r.next(500 * time.Millisecond); ok {
				got = append(got, ev.Path)
			}
			break
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("reported %q, want only %q", got, want)
	}
}

func TestAutoModeNoticesMissingEventsAndSaysSo(t *testing.T) {
	in := inbox(t, func(i *watcher.Inbox) { i.RescanInterval = 400 * time.Millisecond })
	var logs testlog.Buffer
	w := watcher.NewDeaf(watcher.Options{Inbox: in, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan watcher.Event, 10)
	done := make(chan struct{})
	go func() { _ = w.Run(ctx, events); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // after the start-up scan
	p := filepath.Join(in.Path, "from-another-pc.pdf")
	write(t, p, pdf(t))
	select {
	case ev := <-events:
		if ev.Path != p {
			t.Fatalf("event for %s", ev.Path)
		}
	case <-time.After(patience.Scale(5 * time.Second)):
		t.Fatal("the rescan did not find the file")
	}
	out := logs.String()
	if !strings.Contains(out, "without a change event") || !strings.Contains(out, `watch = \"poll\"`) {
		t.Fatalf("no warning with the fix in the log:\n%s", out)
	}
	if s := w.Status(); !strings.Contains(s.Mode, "poll") {
		t.Errorf("status mode = %q", s.Mode)
	}
	// Said once, not at every rescan.
	q := filepath.Join(in.Path, "second.pdf")
	write(t, q, pdf(t))
	<-events
	if n := strings.Count(logs.String(), "without a change event"); n != 1 {
		t.Errorf("warning logged %d times", n)
	}
}

// A photo copied in pieces settles like a PDF: complete only when its
// structure reaches its end (PNG IEND, JPEG end of image), however long
// its size stays still in between; the reason names what is missing.
func TestImagesSettleWhenComplete(t *testing.T) {
	// incomplete_after is long enough, on a busy machine too, to see both
	// held as incomplete before they are reported.
	in := inbox(t, func(i *watcher.Inbox) {
		i.Include = []string{"*.png", "*.jpg"}
		i.IncompleteAfter = patience.Scale(2 * time.Second)
	})
	r := samples.GenerateReceipt(3, 1)
	jpg, err := samples.ReceiptJPEG(r)
	if err != nil {
		t.Fatal(err)
	}
	png, err := samples.ReceiptPNG(r)
	if err != nil {
		t.Fatal(err)
	}
	photos := map[string][]byte{filepath.Join(in.Path, "photo.jpg"): jpg, filepath.Join(in.Path, "shot.png"): png}
	for p, b := range photos {
		write(t, p, b[:len(b)*2/3])
	}
	run := start(t, in, false)
	if !patience.Wait(in.IncompleteAfter/2, 10*time.Millisecond, func() bool { return run.w.Status().Incomplete == 2 }) {
		t.Errorf("cut-off images: incomplete %d, want 2", run.w.Status().Incomplete)
	}
	select {
	case ev := <-run.events:
		t.Fatalf("%s %s reported before incomplete_after", ev.Kind, ev.Path)
	default:
	}
	got := map[string]watcher.Event{}
	for range 2 {
		ev, ok := run.next(in.IncompleteAfter + patience.Scale(3*time.Second))
		if !ok {
			t.Fatal("cut-off images never reported")
		}
		got[ev.Path] = ev
	}
	for p, want := range map[string]string{filepath.Join(in.Path, "photo.jpg"): "JPEG image", filepath.Join(in.Path, "shot.png"): "PNG image"} {
		if ev := got[p]; ev.Kind != watcher.Incomplete || !strings.Contains(ev.Reason, want) {
			t.Errorf("%s: %s %q, want incomplete naming %q", p, ev.Kind, ev.Reason, want)
		}
	}
	// The rest of the bytes arrive: each is ready.
	for p, b := range photos {
		write(t, p, b)
	}
	ready := map[string]bool{}
	for range 2 {
		ev, ok := run.next(3 * time.Second)
		if !ok || ev.Kind != watcher.Ready {
			t.Fatalf("completed image: %+v %v", ev, ok)
		}
		ready[ev.Path] = true
	}
	for p := range photos {
		if !ready[p] {
			t.Errorf("%s never ready", p)
		}
	}
}
