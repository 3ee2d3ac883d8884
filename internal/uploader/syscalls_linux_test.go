//go:build linux && amd64

package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// The system calls of the hot path, counted: a child process (this test
// binary) runs the uploader over new files, from the watcher's Ready event
// to the API's acceptance, then the finish stage over the API's answers to
// the results written beside them, and this process follows every thread
// of it with ptrace, counting on each call's entry the opens and stats of
// the documents' own files (by path, and every fstat of one). No timer or
// tick touches the inbox, so the count is the same from run to run.

const syscallChildEnv = "PPSYNC_SYSCALL_CHILD"

// Budget per document, what the hot path needs. Opens: one for validation
// (the head read that recognises the format, then the hash and the checks
// through the same descriptor) and one for the upload. Stats: the fstat of
// the validation pass (its size and mtime also stamp the validation
// journal), two of the upload (before its first byte and after its last:
// they stand for a second hash), and the finish stage's lstat of the file
// before its result is written (a file deleted meanwhile is recorded gone).
// And the folder the results go to is looked up once for the results
// finished together, not once for each.
const (
	opensPerDoc         = 2
	statsPerDoc         = 4
	folderStatsPerBatch = 1
)

func TestHotPathSyscallsPerDocument(t *testing.T) {
	if v := os.Getenv(syscallChildEnv); v != "" {
		dir, events, _ := strings.Cut(v, string(os.PathListSeparator))
		syscallChild(t, dir, events)
		return
	}
	dir := t.TempDir()
	const docs = 12
	// The watcher's events are made here: its stat of each file is not
	// part of what is counted.
	var evs []watcher.Event
	for i := range docs {
		p := filepath.Join(dir, fmt.Sprintf("scan-%02d.pdf", i))
		writePDF(t, p, i+1)
		evs = append(evs, readyEvent(t, p))
	}
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(events, b, 0o600); err != nil {
		t.Fatal(err)
	}
	opens, stats, folderStats, err := traceChild(t, dir, events)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d documents: %d opens and %d stats of their files (%.1f and %.1f per document), %d stats of their folder", docs, opens, stats,
		float64(opens)/docs, float64(stats)/docs, folderStats)
	if opens > opensPerDoc*docs {
		t.Errorf("%d opens for %d documents, budget %d each", opens, docs, opensPerDoc)
	}
	if stats > statsPerDoc*docs {
		t.Errorf("%d stats for %d documents, budget %d each", stats, docs, statsPerDoc)
	}
	if opens < docs {
		t.Errorf("%d opens for %d documents: the trace missed the files", opens, docs)
	}
	// The results of the documents finished together go to one folder,
	// looked up once for them all.
	if folderStats > folderStatsPerBatch {
		t.Errorf("%d stats of the folder for %d results written together, budget %d", folderStats, docs, folderStatsPerBatch)
	}
}

// syscallChild runs the uploader over the PDFs in dir until the API has
// accepted them all.
func syscallChild(t *testing.T, dir, events string) {
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	var evs []watcher.Event
	if err := json.Unmarshal(b, &evs); err != nil || len(evs) == 0 {
		t.Fatalf("no events in %s (%v)", events, err)
	}
	fa := &readingAPI{}
	r := startHashRun(t, dir, fa)
	var names []string
	for _, ev := range evs {
		names = append(names, filepath.Base(ev.Path))
		r.events <- ev
	}
	r.waitAccepted(t, names...)
	// The answers, as the poller hands them on, to their results.
	fin := finish.New(finish.Options{Store: r.st, Inboxes: []finish.Inbox{{Path: dir}}})
	var answers []finish.Answer
	for _, name := range names {
		answers = append(answers, finish.Answer{Key: state.DocKey("prs", fa.accepted[name]),
			Doc: apitypes.Document{DocumentID: "doc_" + name, Filename: name, Status: apitypes.StatusCompleted}})
	}
	for i, err := range fin.DoneAll(context.Background(), answers) {
		if err != nil {
			t.Fatalf("answer of %s: %v", names[i], err)
		}
	}
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name+".json")); err != nil {
			t.Fatalf("no result for %s: %v", name, err)
		}
	}
}

// traceChild runs syscallChild under ptrace and counts, over all its
// threads, the openat and stat calls naming a path under dir and the
// fstat calls on a file under dir.
func traceChild(t *testing.T, dir, events string) (opens, stats, folderStats int, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHotPathSyscallsPerDocument$", "-test.count=1")
	cmd.Env = append(os.Environ(), syscallChildEnv+"="+dir+string(os.PathListSeparator)+events)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	pid := cmd.Process.Pid
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, 0, 0, err
	}
	const opts = syscall.PTRACE_O_TRACECLONE | syscall.PTRACE_O_TRACESYSGOOD | 0x100000 /* EXITKILL */
	if err := syscall.PtraceSetOptions(pid, opts); err != nil {
		return 0, 0, 0, fmt.Errorf("ptrace: %w (the test needs ptrace of its own child)", err)
	}
	if err := syscall.PtraceSyscall(pid, 0); err != nil {
		return 0, 0, 0, err
	}
	inSyscall := map[int]bool{}
	for {
		tid, err := syscall.Wait4(-1, &ws, syscall.WALL, nil)
		if err != nil {
			return 0, 0, 0, err
		}
		switch {
		case ws.Exited() || ws.Signaled():
			delete(inSyscall, tid)
			if tid == pid {
				if !ws.Exited() || ws.ExitStatus() != 0 {
					return 0, 0, 0, fmt.Errorf("the child failed (%v):\n%s", ws, out.String())
				}
				return opens, stats, folderStats, nil
			}
			continue
		case !ws.Stopped():
			continue
		}
		sig := 0
		switch s := ws.StopSignal(); {
		case s == syscall.SIGTRAP|0x80:
			if !inSyscall[tid] {
				var regs syscall.PtraceRegs
				if syscall.PtraceGetRegs(tid, &regs) == nil {
					switch regs.Orig_rax {
					case syscall.SYS_OPENAT:
						if isDoc(peekPath(tid, uintptr(regs.Rsi)), dir) {
							opens++
						}
					case syscall.SYS_NEWFSTATAT, 332 /* statx */ :
						switch p := peekPath(tid, uintptr(regs.Rsi)); {
						case isDoc(p, dir):
							stats++
						case p == dir:
							folderStats++
						}
					case syscall.SYS_FSTAT:
						if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", tid, int(regs.Rdi))); err == nil && isDoc(l, dir) {
							stats++
						}
					}
				}
			}
			inSyscall[tid] = !inSyscall[tid]
		case s == syscall.SIGTRAP, s == syscall.SIGSTOP:
			// A clone event, or a new thread's first stop.
		default:
			sig = int(s)
		}
		_ = syscall.PtraceSyscall(tid, sig)
	}
}

// peekPath reads the NUL-terminated path at addr in tid.
func peekPath(tid int, addr uintptr) string {
	// A path of the test is short; a read that ends at an unmapped page
	// returns what it read before it.
	buf := make([]byte, 512)
	n, _ := syscall.PtracePeekData(tid, addr, buf)
	path, _, _ := strings.Cut(string(buf[:n]), "\x00")
	return path
}

// isDoc reports whether path is one of the test's documents in dir.
func isDoc(path, dir string) bool {
	return strings.HasPrefix(path, dir+"/") && strings.HasSuffix(path, ".pdf")
}
