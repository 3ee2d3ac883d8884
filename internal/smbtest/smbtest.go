// Package smbtest runs a real SMB share for tests and benchmarks: Samba's
// smbd on a loopback port, with its own configuration and private folders
// under a temp folder, sharing a temp folder, mounted through smbnetfs
// (FUSE, so no kernel cifs module is needed) at a temp mount point. It can
// stop and start the server (an outage), and write into the shared folder
// directly (another machine's write) or through smbclient.
//
// A test that needs it calls Start; when smbd, smbclient, smbnetfs, FUSE or
// root are missing the test is skipped with the reason, unless the CI
// environment variable is set, in which case it fails. Install with
//
//	apt-get install -y samba smbclient smbnetfs fuse3
//
// Facts learned on such a share: while one client holds a file open for
// writing others see its mtime frozen until it is closed; smbclient's
// "put -" buffers its input to the end; "reput" rewrites from offset 0; a
// folder fsync through smbnetfs costs a listing of the whole folder; while
// the server is down every operation on the mount fails with EIO.
package smbtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TB is what Start needs of its caller: a test (testing.TB has it all),
// or a program such as the bench, which supplies its own.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
}

// ShareName is the name of the share the server exports.
const ShareName = "share"

// Share is a running SMB server and its mount.
type Share struct {
	// Folder is the shared folder on the server's side: writing there is
	// another machine writing to the share.
	Folder string
	// Mount is the share as a client sees it, through smbnetfs.
	Mount string

	t        TB
	o        Options
	dir      string
	port     int
	mountDir string

	mu   sync.Mutex
	smbd *exec.Cmd
	done chan struct{} // closed when smbd has exited
}

// Missing reports what is missing to run a share here ("" when nothing).
func Missing() string {
	var miss []string
	for _, tool := range []string{"smbd", "smbclient", "smbnetfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			miss = append(miss, tool)
		}
	}
	if fusermount() == "" {
		miss = append(miss, "fusermount (fuse3)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		miss = append(miss, "/dev/fuse")
	}
	if os.Geteuid() != 0 {
		miss = append(miss, "root (smbd runs as root)")
	}
	if len(miss) == 0 {
		return ""
	}
	return "missing " + strings.Join(miss, ", ") + " (apt-get install -y samba smbclient smbnetfs fuse3, as root)"
}

func fusermount() string {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Options shape the share.
type Options struct {
	// CaseSensitive writes "case sensitive = yes" into the share's
	// section (case stays preserved, Samba's default): the server then
	// looks a name up as given and rules out a missing one with one
	// lookup, where a case-insensitive share (Samba's default, as
	// Windows') reads the whole folder to be sure no other case of it
	// exists. On a large folder that scan is most of a backlog's cost.
	CaseSensitive bool
}

// Start starts a server with default options and mounts its share; see
// StartWith.
func Start(t TB) *Share {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith starts a server and mounts its share; everything is stopped,
// unmounted and removed when the test ends, whether it passed or not.
func StartWith(t TB, o Options) *Share {
	t.Helper()
	if why := Missing(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("a real SMB share is needed: %s", why)
		}
		t.Skipf("skipped: a real SMB share is needed: %s", why)
	}
	// Not t.TempDir: smbd and smbnetfs must be gone before it is removed,
	// and the mount point must be unmounted first.
	dir, err := os.MkdirTemp("", "ppsync-smb-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Share{t: t, o: o, dir: dir, Folder: filepath.Join(dir, "share"), mountDir: filepath.Join(dir, "mnt")}
	t.Cleanup(s.cleanup)
	for _, d := range []string{"share", "mnt", "private", "lock", "state", "cache", "run", "log", "home/.smb"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(s.Folder, 0o777); err != nil {
		t.Fatal(err)
	}
	s.port = freePort(t)
	s.Mount = filepath.Join(s.mountDir, "127.0.0.1:"+strconv.Itoa(s.port), ShareName)
	s.writeConfig()
	s.StartServer()
	s.mount()
	return s
}

func freePort(t TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Share) writeConfig() {
	p := func(name string) string { return filepath.Join(s.dir, name) }
	conf := fmt.Sprintf(`[global]
  smb ports = %d
  interfaces = lo
  bind interfaces only = yes
  private dir = %s
  lock directory = %s
  state directory = %s
  cache directory = %s
  pid directory = %s
  ncalrpc dir = %s
  log file = %s
  log level = 1
  map to guest = Bad User
  server role = standalone server
  disable netbios = yes
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  server min protocol = SMB2
[%s]
  path = %s
  read only = no
  guest ok = yes
  force user = root
`, s.port, p("private"), p("lock"), p("state"), p("cache"), p("run"), p("run/ncalrpc"), p("log/smbd.log"), ShareName, s.Folder)
	if s.o.CaseSensitive {
		conf += "  case sensitive = yes\n"
	}
	s.write(p("smb.conf"), conf)
	// libsmbclient (smbnetfs, smbclient) reads $HOME/.smb/smb.conf.
	s.write(p("home/.smb/smb.conf"), "[global]\n  client min protocol = SMB2\n")
	// smbnetfs refuses a config with auth in it unless it is 0600. The port
	// goes in the host name: smbnetfs passes it to libsmbclient's URL.
	s.write(p("home/.smb/smbnetfs.conf"), fmt.Sprintf("smb_query_browsers false\nhost 127.0.0.1:%d visible=true\nauth \"guest\" \"\"\n", s.port))
}

func (s *Share) write(path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Share) env() []string {
	return append(os.Environ(), "HOME="+filepath.Join(s.dir, "home"))
}

// StartServer starts smbd (again, after StopServer) and waits until it
// accepts connections.
func (s *Share) StartServer() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.smbd != nil {
		return
	}
	// smbd --no-process-group kills its own process group on exit: in a
	// session of its own (setsid) that group is smbd and its children only.
	cmd := exec.Command("smbd", "--foreground", "--no-process-group", "--debug-stdout", "-s", filepath.Join(s.dir, "smb.conf"))
	out, err := os.OpenFile(filepath.Join(s.dir, "log", "smbd.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = ownSession()
	cmd.Env = s.env()
	if err := cmd.Start(); err != nil {
		out.Close()
		s.t.Fatalf("start smbd: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()
	s.smbd, s.done = cmd, done
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			s.t.Fatalf("smbd exited at start; its log:\n%s", s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("smbd does not accept connections on port %d after 20s: %v; its log:\n%s", s.port, err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StopServer stops smbd (its whole process group) and waits until it is
// gone: the share is unreachable until StartServer.
func (s *Share) StopServer() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.smbd == nil {
		return
	}
	pid := s.smbd.Process.Pid
	_ = killGroup(pid, false)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = killGroup(pid, true)
		<-s.done
	}
	// Children of smbd may outlive it by a moment.
	for i := 0; i < 100 && groupAlive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	_ = killGroup(pid, true)
	s.smbd = nil
}

func (s *Share) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log", "smbd.out"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *Share) mount() {
	s.t.Helper()
	cmd := exec.Command("smbnetfs", s.mountDir, "-o", "config="+filepath.Join(s.dir, "home", ".smb", "smbnetfs.conf"))
	cmd.Env = s.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("smbnetfs %s: %v: %s", s.mountDir, err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := os.ReadDir(s.Mount)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the share mounted at %s cannot be listed after 20s: %v", s.Mount, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitReachable waits until the mount can be listed again (after
// StartServer), for at most d.
func (s *Share) WaitReachable(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		_, err := os.ReadDir(s.Mount)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the share at %s is still unreachable after %v: %w", s.Mount, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WriteDirect writes a file into the shared folder on the server's side
// (another machine writing to the share), through a temp name and a
// rename so the client never sees it half written; name is relative to
// the share.
func (s *Share) WriteDirect(name string, data []byte) {
	s.t.Helper()
	p := filepath.Join(s.Folder, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		s.t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(p), ".smbtest-"+filepath.Base(p))
	if err := os.WriteFile(tmp, data, 0o666); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		s.t.Fatal(err)
	}
}

// Put uploads data as name (relative to the share) with smbclient, as
// another SMB client would. smbclient's "put -" would buffer its input to
// the end, so the data goes through a local file.
func (s *Share) Put(ctx context.Context, name string, data []byte) error {
	src := filepath.Join(s.dir, "put-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.WriteFile(src, data, 0o600); err != nil {
		return err
	}
	defer os.Remove(src)
	return s.Client(ctx, fmt.Sprintf("put %q %q", src, strings.ReplaceAll(name, "/", `\`)))
}

// Client runs smbclient commands (its -c argument) against the share.
func (s *Share) Client(ctx context.Context, commands string) error {
	cmd := exec.CommandContext(ctx, "smbclient", "-N", "-p", strconv.Itoa(s.port), "//127.0.0.1/"+ShareName, "-c", commands)
	cmd.Env = s.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("smbclient -c %q: %w: %s", commands, err, out.String())
	}
	if strings.Contains(out.String(), "NT_STATUS_") {
		return fmt.Errorf("smbclient -c %q: %s", commands, strings.TrimSpace(out.String()))
	}
	return nil
}

func (s *Share) cleanup() {
	if fm := fusermount(); fm != "" {
		if err := exec.Command(fm, "-u", s.mountDir).Run(); err != nil {
			// Busy (a file still open): detach it lazily.
			_ = exec.Command(fm, "-uz", s.mountDir).Run()
		}
	}
	s.StopServer()
	// Only remove what is not mounted: a mount that would not go must not
	// have the share's files deleted through it.
	if isMounted(s.mountDir) {
		s.t.Errorf("smbtest: %s is still mounted; not removing %s", s.mountDir, s.dir)
		return
	}
	if err := os.RemoveAll(s.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.t.Logf("smbtest: remove %s: %v", s.dir, err)
	}
}

func isMounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte(" "+dir+" "))
}

// Processes lists the processes serving the share now: smbd's (its
// session: the server and one child per client connection) and
// smbnetfs's (the mount's FUSE server and its helpers, found by the mount
// point in their command lines). Linux only (read from /proc); nil
// elsewhere. For benchmarks: the CPU they spend is the share's cost.
func (s *Share) Processes() (smbd, smbnetfs []int) {
	s.mu.Lock()
	leader := 0
	if s.smbd != nil {
		leader = s.smbd.Process.Pid
	}
	s.mu.Unlock()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, nil
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat")); err == nil && leader != 0 {
			// Fields after the command's closing parenthesis: state, ppid, pgrp, session.
			if i := bytes.LastIndexByte(stat, ')'); i > 0 {
				if f := strings.Fields(string(stat[i+1:])); len(f) > 3 && f[3] == strconv.Itoa(leader) {
					smbd = append(smbd, pid)
					continue
				}
			}
		}
		if cmd, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline")); err == nil &&
			bytes.Contains(cmd, []byte("smbnetfs")) && bytes.Contains(cmd, []byte(s.mountDir)) {
			smbnetfs = append(smbnetfs, pid)
		}
	}
	return smbd, smbnetfs
}
