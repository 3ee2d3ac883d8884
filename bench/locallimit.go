//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/watcher"
)

// sizedFiles writes n invoices padded to sizes drawn evenly from 100 KB to
// 2 MB: each is a real invoice followed by an incremental update that adds
// one stream of random (incompressible) bytes, as a scan's image would.
func sizedFiles(dir string, n int, seed uint64) (int64, error) {
	r := rand.New(rand.NewPCG(seed, uint64(n)+7))
	var total int64
	for i := range n {
		want := 100_000 + r.IntN(1_900_001)
		b, err := samples.Generate(seed, i, 1+r.IntN(3)).PDF()
		if err != nil {
			return 0, err
		}
		b, err = padPDF(b, want, r)
		if err != nil {
			return 0, err
		}
		sub := filepath.Join(dir, fmt.Sprintf("batch-%03d", i/500))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("scan-%05d.pdf", i)), b, 0o644); err != nil {
			return 0, err
		}
		total += int64(len(b))
	}
	return total, nil
}

var (
	startxrefRe = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	sizeRe      = regexp.MustCompile(`/Size\s+(\d+)`)
	rootRe      = regexp.MustCompile(`/Root\s+(\d+\s+\d+\s+R)`)
)

// padPDF appends an incremental update holding one stream object so that
// the file is about want bytes.
func padPDF(b []byte, want int, r *rand.Rand) ([]byte, error) {
	m := startxrefRe.FindSubmatch(b)
	sm := sizeRe.FindAllSubmatch(b, -1)
	rm := rootRe.FindAllSubmatch(b, -1)
	if m == nil || sm == nil || rm == nil {
		return nil, fmt.Errorf("padding a generated PDF: no startxref, /Size or /Root in its trailer")
	}
	prev := string(m[1])
	size, _ := strconv.Atoi(string(sm[len(sm)-1][1]))
	root := string(rm[len(rm)-1][1])
	pad := max(want-len(b)-300, 0)
	var out bytes.Buffer
	out.Grow(len(b) + pad + 400)
	out.Write(b)
	if !bytes.HasSuffix(b, []byte("\n")) {
		out.WriteByte('\n')
	}
	off := out.Len()
	fmt.Fprintf(&out, "%d 0 obj\n<< /Length %d >>\nstream\n", size, pad)
	chunk := make([]byte, 8)
	for i := 0; i < pad; i += 8 {
		v := r.Uint64()
		for j := range chunk {
			chunk[j] = byte(v >> (8 * j))
		}
		out.Write(chunk[:min(8, pad-i)])
	}
	out.WriteString("\nendstream\nendobj\n")
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %s >>\nstartxref\n%d\n%%%%EOF\n",
		size, off, size+1, root, prev, xref)
	return out.Bytes(), nil
}

// threadCPU is the user and system time of the calling OS thread.
func threadCPU() (user, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// floor is what the least any tool must do for these files costs, in CPU
// time on one thread: a stat of each, and with hash set one sha256 pass
// over its bytes (open, read in 1 MiB pieces, close).
func floor(paths []string, hash bool) (user, sys time.Duration, err error) {
	return floorWith(paths, hash, nil)
}

// floorWith is floor, and then (with hash set) then, on the same thread,
// for the i-th file still open after its hash pass, with the read buffer.
func floorWith(paths []string, hash bool, then func(i int, f *os.File, buf []byte) error) (user, sys time.Duration, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, 1<<20)
	u0, s0 := threadCPU()
	for i, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return 0, 0, err
		}
		if !hash {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return 0, 0, err
		}
		h := sha256.New()
		_, err = io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
		if err == nil {
			_ = hex.EncodeToString(h.Sum(nil))
			if then != nil {
				err = then(i, f, buf)
			}
		}
		f.Close()
		if err != nil {
			return 0, 0, err
		}
	}
	u1, s1 := threadCPU()
	return u1 - u0, s1 - s0, nil
}

// jobFloor is the least the whole job costs on one thread, besides the
// floor's stat and hash: each file's bytes read again and sent over a
// loopback TCP connection (to a reader on another thread, whose time is
// not counted), and a small result written beside it in a folder of dir,
// synced and renamed into place. It leaves nothing behind.
func jobFloor(paths []string, dir string) (user, sys time.Duration, err error) {
	out, err := os.MkdirTemp(dir, "job-floor-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(out)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	drained := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = io.Copy(io.Discard, c)
			c.Close()
		}
		drained <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	result := bytes.Repeat([]byte(`{"k":"v"}`), 227) // about 2 KiB, as a result
	user, sys, err = floorWith(paths, true, func(i int, f *os.File, buf []byte) error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.CopyBuffer(conn, struct{ io.Reader }{f}, buf); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(out, ".result-*")
		if err != nil {
			return err
		}
		_, err = tmp.Write(result)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return os.Rename(tmp.Name(), filepath.Join(out, fmt.Sprintf("%05d.pdf.json", i)))
	})
	conn.Close()
	if derr := <-drained; err == nil {
		err = derr
	}
	return user, sys, err
}

func pdfsUnder(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pdf") {
			paths = append(paths, p)
		}
		return err
	})
	return paths, err
}

func ms(d time.Duration, n int) float64 { return float64(d) / float64(time.Millisecond) / float64(n) }

// localLimit drops o.localFiles new PDFs of 100 KB to 2 MB with the API's
// limits lifted (a 10 ms rate window, no processing time): what is
// measured is ppsync's own cost, against the floor of the same run.
func localLimit(o options, bin, work string) error {
	n := o.localFiles
	dir := filepath.Join(work, "local-limit")
	inbox := filepath.Join(dir, "inbox")
	fmt.Fprintf(os.Stderr, "local-limit: generating %d PDFs of 100 KB to 2 MB…\n", n)
	bytesTotal, err := sizedFiles(inbox, n, o.seed)
	if err != nil {
		return err
	}
	paths, err := pdfsUnder(inbox)
	if err != nil {
		return err
	}
	emu, cfg, stop, err := liftedServer(o, dir, "")
	if err != nil {
		return err
	}
	defer stop()
	// Warm the page cache for both sides alike: the floor reads first once.
	if _, _, err := floor(paths, true); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "local-limit: ppsync run --once on %d files (%.0f MB)…\n", n, float64(bytesTotal)/1e6)
	r, err := runOnce(bin, cfg)
	if err != nil {
		return err
	}
	results, err := countResults(inbox)
	if err != nil {
		return err
	}
	charged := emu.Stats().DocumentsCreated
	if results != n || charged != n {
		return fmt.Errorf("local-limit: %d files, %d results, %d documents charged", n, results, charged)
	}
	fu, fs, err := floor(paths, true)
	if err != nil {
		return err
	}
	fl := fu + fs
	ju, js, err := jobFloor(paths, dir)
	if err != nil {
		return err
	}
	jf := ju + js
	fmt.Printf("\nlocal-limit: %d new PDFs, %.0f MB (100 KB to 2 MB each), API limits lifted (10 ms window, no processing time)\n", n, float64(bytesTotal)/1e6)
	fmt.Printf("floor, same run, one thread: a stat and one sha256 pass (1 MiB reads) of each file: %s (%.2f ms/doc; %.0f MB/s)\n\n",
		fmtDur(fl), ms(fl, n), float64(bytesTotal)/1e6/fl.Seconds())
	fmt.Printf("the job's floor, same run, one thread: that, the same bytes read again and sent over a loopback TCP connection, and a 2 KiB result written, synced and renamed beside them: %s (%.2f ms/doc; %.2f user + %.2f system); ppsync ÷ the job's floor: %.2f\n\n",
		fmtDur(jf), ms(jf, n), ms(ju, n), ms(js, n), float64(r.cpu)/float64(jf))
	fmt.Println("| files | wall | documents/s | CPU user | CPU system | CPU ms/doc (user + system) | floor ms/doc | ppsync ÷ floor | peak RSS (VmHWM) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | %s | %.0f | %s | %s | %.2f (%.2f + %.2f) | %.2f | %.2f | %.1f MiB |\n", n, fmtDur(r.wall), float64(n)/r.wall.Seconds(),
		fmtDur(r.user), fmtDur(r.sys), ms(r.cpu, n), ms(r.user, n), ms(r.sys, n), ms(fl, n), float64(r.cpu)/float64(fl), float64(r.rssKiB)/1024)
	return nil
}

// restartScenario restarts `ppsync run --once` over o.restartFiles files
// it already handled: a state holding each as done (with the identity the
// watcher gives it) and its result beside it. Nothing is to be hashed or
// sent; the floor is a stat of each file.
func restartScenario(o options, bin, work string) error {
	n := o.restartFiles
	dir := filepath.Join(work, "restart")
	inbox := filepath.Join(dir, "inbox")
	fmt.Fprintf(os.Stderr, "restart: generating %d PDFs and their results…\n", n)
	if _, err := files(inbox, n, 1, o.seed); err != nil {
		return err
	}
	paths, err := pdfsUnder(inbox)
	if err != nil {
		return err
	}
	if err := knownState(filepath.Join(dir, "state.db"), inbox, paths); err != nil {
		return err
	}
	emu, cfg, stop, err := liftedServer(o, dir, "")
	if err != nil {
		return err
	}
	defer stop()
	if _, _, err := floor(paths, false); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "restart: ppsync run --once over %d known files…\n", n)
	r, err := runOnce(bin, cfg)
	if err != nil {
		return err
	}
	if c := emu.Stats().DocumentsCreated; c != 0 {
		return fmt.Errorf("restart: %d documents charged over %d known files; want 0", c, n)
	}
	fu, fs, err := floor(paths, false)
	if err != nil {
		return err
	}
	fl := fu + fs
	fmt.Printf("\nrestart: ppsync run --once over %d known files (done, unchanged, results beside them)\n", n)
	fmt.Printf("floor, same run, one thread: a stat of each file: %s (%.3f ms/file)\n\n", fmtDur(fl), ms(fl, n))
	fmt.Println("| files | wall | files/s | CPU user | CPU system | CPU ms/file (user + system) | floor ms/file | ppsync ÷ floor | peak RSS (VmHWM) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | %s | %.0f | %s | %s | %.3f (%.3f + %.3f) | %.4f | %.1f | %.1f MiB |\n", n, fmtDur(r.wall), float64(n)/r.wall.Seconds(),
		fmtDur(r.user), fmtDur(r.sys), ms(r.cpu, n), ms(r.user, n), ms(r.sys, n), ms(fl, n), float64(r.cpu)/float64(fl), float64(r.rssKiB)/1024)
	return nil
}

// knownState records every file as done an hour ago: its size, mtime and
// the watcher's identity (inode and ctime), its document done, and writes
// the result beside it.
func knownState(path, inbox string, paths []string) error {
	s, err := state.Open(path, 5*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	then := time.Now().Add(-time.Hour)
	result := []byte(`{"document_id":"doc_x","filename":"invoice.pdf","status":"completed","page_count":1,"result":{"total":1}}`)
	const perTx = 5000
	for lo := 0; lo < len(paths); lo += perTx {
		err := s.Update(func(tx *state.Tx) error {
			for _, p := range paths[lo:min(lo+perTx, len(paths))] {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				sha := hex.EncodeToString(sum[:])
				if err := os.WriteFile(p+".json", result, 0o644); err != nil {
					return err
				}
				var st syscall.Stat_t
				if err := syscall.Stat(p, &st); err != nil {
					return err
				}
				f := state.File{Path: p, Inbox: inbox, ParserID: "prs_invoice", SHA256: sha, Pages: 1, State: state.FileDone,
					Size: st.Size, ModTime: st.Mtim.Nano(), Identity: watcher.IdentityOf(uint64(st.Ino), st.Ctim.Nano()),
					Result: p + ".json", FirstSeen: then, Updated: then}
				if err := tx.RestoreFile(f); err != nil {
					return err
				}
				if err := tx.RestoreDoc(state.Doc{Key: state.DocKey("prs_invoice", sha), ParserID: "prs_invoice", SHA256: sha,
					Size: f.Size, Pages: 1, State: state.DocDone, Files: []string{p}, ExtractionID: "ext_x", DocumentID: "doc_x",
					Updated: then}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
