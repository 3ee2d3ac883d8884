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
	"time"

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
//
// Lookups of names that do not exist, in the documents' folder: on a
// case-insensitive SMB server each reads the whole folder, so they are
// counted apart, with the folder answered from one listing as on a share
// (finish.Options.ListFolder). Two per document: the result's temp file,
// created exclusively, and the rename onto the result's name. The result
// looked for before the submission and the stale error file removed after
// the result are answered by the listing. Once per run, not per
// document: the exclusive create of the probe that the folder is writable.
const (
	opensPerDoc          = 2
	statsPerDoc          = 4
	folderStatsPerBatch  = 1
	missingLookupsPerDoc = 2
	missingLookupsPerRun = 1
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
		ev := readyEvent(t, p)
		ev.Seen = time.Now() // as the watcher stamps it: before the child runs
		evs = append(evs, ev)
	}
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(events, b, 0o600); err != nil {
		t.Fatal(err)
	}
	opens, stats, folderStats, missing, err := traceChild(t, dir, events)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d documents: %d opens and %d stats of their files (%.1f and %.1f per document), %d stats of their folder", docs, opens, stats,
		float64(opens)/docs, float64(stats)/docs, folderStats)
	t.Logf("%d lookups of names that did not exist in the folder (%.1f per document): %v", missing.total(), float64(missing.total())/docs, missing)
	if n := missing.total(); n > missingLookupsPerDoc*docs+missingLookupsPerRun {
		t.Errorf("%d lookups of missing names for %d documents, budget %d each: %v", n, docs, missingLookupsPerDoc, missing)
	}
	if missing["create"] < docs || missing["rename"] < docs {
		t.Errorf("the trace missed the results' temp files or renames: %v", missing)
	}
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
	// The folder is answered from a listing, as on a share.
	fin := finish.New(finish.Options{Store: r.st, Inboxes: []finish.Inbox{{Path: dir}}, ListFolder: func(string) bool { return true }})
	r.fin.already = fin.AlreadyDone
	var names []string
	for _, ev := range evs {
		names = append(names, filepath.Base(ev.Path))
		r.events <- ev
	}
	r.waitAccepted(t, names...)
	// The answers, as the poller hands them on, to their results.
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

// missingLookups counts, by kind, the calls that looked up a name in the
// documents' folder that did not exist: any call on a path there that
// failed with ENOENT ("stat", "open", "unlink"), an exclusive create that
// succeeded ("create") and a rename onto a new name ("rename").
type missingLookups map[string]int

func (m missingLookups) total() int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// pendingCall is a call on a path in the folder, seen at its entry and
// judged at its exit.
type pendingCall struct {
	kind   string // stat, open, unlink, rename
	create bool   // an openat with O_CREAT|O_EXCL
	newer  bool   // a rename whose target did not exist before it
}

// traceChild runs syscallChild under ptrace and counts, over all its
// threads, the openat and stat calls naming a path under dir and the
// fstat calls on a file under dir, and the lookups of names in dir that
// did not exist.
func traceChild(t *testing.T, dir, events string) (opens, stats, folderStats int, missing missingLookups, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	missing = missingLookups{}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHotPathSyscallsPerDocument$", "-test.count=1")
	cmd.Env = append(os.Environ(), syscallChildEnv+"="+dir+string(os.PathListSeparator)+events)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, nil, err
	}
	pid := cmd.Process.Pid
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, 0, 0, nil, err
	}
	const opts = syscall.PTRACE_O_TRACECLONE | syscall.PTRACE_O_TRACESYSGOOD | 0x100000 /* EXITKILL */
	if err := syscall.PtraceSetOptions(pid, opts); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("ptrace: %w (the test needs ptrace of its own child)", err)
	}
	if err := syscall.PtraceSyscall(pid, 0); err != nil {
		return 0, 0, 0, nil, err
	}
	inSyscall := map[int]bool{}
	pending := map[int]*pendingCall{}
	inDir := func(p string) bool { return strings.HasPrefix(p, dir+"/") }
	// at resolves the path argument of an *at call against its folder
	// descriptor (os.Root looks names up relative to one).
	at := func(tid int, dirfd uint64, addr uint64) string {
		p := peekPath(tid, uintptr(addr))
		if p == "" || filepath.IsAbs(p) || int32(dirfd) == -100 /* AT_FDCWD */ {
			return p
		}
		d, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", tid, int32(dirfd)))
		if err != nil {
			return p
		}
		return filepath.Join(d, p)
	}
	for {
		tid, err := syscall.Wait4(-1, &ws, syscall.WALL, nil)
		if err != nil {
			return 0, 0, 0, nil, err
		}
		switch {
		case ws.Exited() || ws.Signaled():
			delete(inSyscall, tid)
			delete(pending, tid)
			if tid == pid {
				if !ws.Exited() || ws.ExitStatus() != 0 {
					return 0, 0, 0, nil, fmt.Errorf("the child failed (%v):\n%s", ws, out.String())
				}
				return opens, stats, folderStats, missing, nil
			}
			continue
		case !ws.Stopped():
			continue
		}
		sig := 0
		switch s := ws.StopSignal(); {
		case s == syscall.SIGTRAP|0x80:
			var regs syscall.PtraceRegs
			if !inSyscall[tid] {
				delete(pending, tid)
				if syscall.PtraceGetRegs(tid, &regs) == nil {
					switch regs.Orig_rax {
					case syscall.SYS_OPENAT:
						p := at(tid, regs.Rdi, regs.Rsi)
						if isDoc(p, dir) {
							opens++
						}
						if inDir(p) {
							const excl = syscall.O_CREAT | syscall.O_EXCL
							pending[tid] = &pendingCall{kind: "open", create: regs.Rdx&excl == excl}
						}
					case syscall.SYS_NEWFSTATAT, 332 /* statx */ :
						p := at(tid, regs.Rdi, regs.Rsi)
						switch {
						case isDoc(p, dir):
							stats++
						case p == dir:
							folderStats++
						}
						if inDir(p) {
							pending[tid] = &pendingCall{kind: "stat"}
						}
					case syscall.SYS_FSTAT:
						if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", tid, int(regs.Rdi))); err == nil && isDoc(l, dir) {
							stats++
						}
					case syscall.SYS_UNLINKAT:
						if inDir(at(tid, regs.Rdi, regs.Rsi)) {
							pending[tid] = &pendingCall{kind: "unlink"}
						}
					case syscall.SYS_RENAMEAT, 316 /* renameat2 */ :
						if p := at(tid, regs.Rdx, regs.R10); inDir(p) {
							_, err := os.Lstat(p)
							pending[tid] = &pendingCall{kind: "rename", newer: os.IsNotExist(err)}
						}
					}
				}
			} else if c := pending[tid]; c != nil {
				delete(pending, tid)
				if syscall.PtraceGetRegs(tid, &regs) == nil {
					switch ret := int64(regs.Rax); {
					case ret == -int64(syscall.ENOENT):
						missing[c.kind]++
					case ret >= 0 && c.create:
						missing["create"]++
					case ret >= 0 && c.newer:
						missing["rename"]++
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
