//go:build linux && amd64

package uploader

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/ppsync/ppsync/internal/watcher"
)

// The system calls of the hot path, counted: a child process (this test
// binary) runs the uploader over new files, from the watcher's Ready event
// to the API's acceptance, and this process follows every thread of it
// with ptrace, counting on each call's entry the opens and stats whose
// path lies in the inbox, and every fstat. No timer or tick touches the
// inbox, so the count is the same from run to run.

const syscallChildEnv = "PPSYNC_SYSCALL_CHILD"

// Budget per document, what the hot path needs. Opens: one for the
// validation pass and one for the upload, plus the one filecheck makes to
// recognise the format from the file's head before it (internal/filecheck
// opens it on its own). Stats: the fstat of the validation pass and two of
// the upload (before its first byte and after its last: they stand for a
// second hash), plus filecheck's fstat of the head and its stat of the
// path for the validation journal: five, one over the four aimed at, for
// as long as filecheck reads the head and the journal's stamp apart from
// the validation pass.
const (
	opensPerDoc = 3
	statsPerDoc = 5
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
	opens, stats, err := traceChild(t, dir, events)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d documents: %d opens and %d stats of their files (%.1f and %.1f per document)", docs, opens, stats,
		float64(opens)/docs, float64(stats)/docs)
	if opens > opensPerDoc*docs {
		t.Errorf("%d opens for %d documents, budget %d each", opens, docs, opensPerDoc)
	}
	if stats > statsPerDoc*docs {
		t.Errorf("%d stats for %d documents, budget %d each", stats, docs, statsPerDoc)
	}
	if opens < docs {
		t.Errorf("%d opens for %d documents: the trace missed the files", opens, docs)
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
}

// traceChild runs syscallChild under ptrace and counts, over all its
// threads, the openat and stat calls naming a path under dir and the
// fstat calls on a file under dir.
func traceChild(t *testing.T, dir, events string) (opens, stats int, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHotPathSyscallsPerDocument$", "-test.count=1")
	cmd.Env = append(os.Environ(), syscallChildEnv+"="+dir+string(os.PathListSeparator)+events)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	pid := cmd.Process.Pid
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, 0, err
	}
	const opts = syscall.PTRACE_O_TRACECLONE | syscall.PTRACE_O_TRACESYSGOOD | 0x100000 /* EXITKILL */
	if err := syscall.PtraceSetOptions(pid, opts); err != nil {
		return 0, 0, fmt.Errorf("ptrace: %w (the test needs ptrace of its own child)", err)
	}
	if err := syscall.PtraceSyscall(pid, 0); err != nil {
		return 0, 0, err
	}
	inSyscall := map[int]bool{}
	for {
		tid, err := syscall.Wait4(-1, &ws, syscall.WALL, nil)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case ws.Exited() || ws.Signaled():
			delete(inSyscall, tid)
			if tid == pid {
				if !ws.Exited() || ws.ExitStatus() != 0 {
					return 0, 0, fmt.Errorf("the child failed (%v):\n%s", ws, out.String())
				}
				return opens, stats, nil
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
						if under(tid, uintptr(regs.Rsi), dir) {
							opens++
						}
					case syscall.SYS_NEWFSTATAT, 332 /* statx */ :
						if under(tid, uintptr(regs.Rsi), dir) {
							stats++
						}
					case syscall.SYS_FSTAT:
						if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", tid, int(regs.Rdi))); err == nil && strings.HasPrefix(l, dir+"/") {
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

// under reports whether the NUL-terminated path at addr in tid lies in
// dir and is not the write gate's probe: that one is per inbox (at most
// one every probeTTL), not per document.
func under(tid int, addr uintptr, dir string) bool {
	probe := dir + "/.ppsync-probe-"
	buf := make([]byte, len(probe))
	n, err := syscall.PtracePeekData(tid, addr, buf)
	if err != nil || n < len(dir)+1 {
		return false
	}
	path := string(buf[:n])
	return strings.HasPrefix(path, dir+"/") && !strings.HasPrefix(path, probe)
}
