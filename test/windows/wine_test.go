// Package wintest runs the Windows build of ppsync for real, under Wine:
// ppsync.exe built with GOOS=windows, in a Wine prefix of its own, against
// an emulator on loopback. .ci/run's Windows stage runs it with
// PPSYNC_WINE=1; elsewhere every test skips and says how to run it.
package wintest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/testlog"
)

const howToRun = "the Windows tests run ppsync.exe under Wine: PPSYNC_WINE=1 go test ./test/windows/ " +
	"(needs wine, wine64 and gcc-mingw-w64-x86-64; .ci/run's Windows stage installs them and runs this)"

// wineEnv is the Wine prefix and the Windows binaries every test shares.
type wineEnv struct {
	root   string // a temp folder holding the prefix and the binaries
	prefix string // WINEPREFIX
	wine   string // the wine loader
	exe    string // ppsync.exe, Linux path
	helper string // winhelper.exe, Linux path
}

// env is set up once by TestMain when PPSYNC_WINE=1; nil otherwise.
var env *wineEnv

func TestMain(m *testing.M) {
	if os.Getenv("PPSYNC_WINE") != "1" {
		os.Exit(m.Run()) // every test skips with howToRun
	}
	if runtime.GOOS != "linux" {
		fmt.Fprintln(os.Stderr, "PPSYNC_WINE=1: the Wine tests run on Linux only")
		os.Exit(1)
	}
	e, err := setUp()
	if err != nil {
		fmt.Fprintln(os.Stderr, "set up Wine:", err)
		os.Exit(1)
	}
	env = e
	code := m.Run()
	e.tearDown()
	os.Exit(code)
}

// needWine skips t unless the Wine environment is set up.
func needWine(t *testing.T) *wineEnv {
	t.Helper()
	if env == nil {
		t.Skip(howToRun)
	}
	return env
}

func setUp() (*wineEnv, error) {
	root, err := os.MkdirTemp("", "ppsync-wine-")
	if err != nil {
		return nil, err
	}
	e := &wineEnv{root: root, prefix: filepath.Join(root, "prefix")}
	e.wine = "/usr/lib/wine/wine64" // exec'd directly: a signal to it reaches the Windows process
	if _, err := os.Stat(e.wine); err != nil {
		if e.wine, err = exec.LookPath("wine"); err != nil {
			return nil, fmt.Errorf("no wine64: apt-get install wine wine64 gcc-mingw-w64-x86-64")
		}
	}
	for _, tool := range []string{"wineboot", "wineserver", "x86_64-w64-mingw32-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: apt-get install wine wine64 gcc-mingw-w64-x86-64", tool)
		}
	}
	start := time.Now()
	e.exe = filepath.Join(root, "ppsync.exe")
	e.helper = filepath.Join(root, "winhelper.exe")
	for _, b := range [][2]string{{e.exe, "../../cmd/ppsync"}, {e.helper, "./winhelper"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("GOOS=windows go build %s: %v\n%s", b[1], err, out)
		}
	}
	if out, err := e.cmd(context.Background(), "wineboot", "-i").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("wineboot -i: %v\n%s", err, out)
	}
	// Drive M:, a "network" drive for TestMappedDriveAndUNC. Wine reads
	// drive types when its session starts, so this comes first.
	if err := os.MkdirAll(e.cPath(mappedShare), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(e.cPath(mappedShare), filepath.Join(e.prefix, "dosdevices", "m:")); err != nil {
		return nil, err
	}
	if out, err := e.win(context.Background(), "reg.exe", "add", `HKLM\Software\Wine\Drives`, "/v", "m:", "/d", "network", "/f").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("declare M: a network drive: %v\n%s", err, out)
	}
	if err := e.cmd(context.Background(), "wineserver", "-w").Run(); err != nil {
		return nil, fmt.Errorf("wineserver -w: %v", err)
	}
	// Keep the Wine session (and its service manager) up between the
	// tests' programs: by default it shuts down, services and all, a few
	// seconds after the last program ends.
	if err := e.cmd(context.Background(), "wineserver", "-p").Run(); err != nil {
		return nil, fmt.Errorf("wineserver -p: %v", err)
	}
	// Start the session's own processes (services.exe and the rest) with
	// no pipes: they inherit the standard streams of the program that
	// starts them, and outlive it.
	if err := e.win(context.Background(), "cmd.exe", "/c", "exit").Run(); err != nil {
		return nil, fmt.Errorf("start the Wine session: %v", err)
	}
	// The shim: see shim/processprng.c.
	dll := filepath.Join(e.prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	cc := exec.Command("x86_64-w64-mingw32-gcc", "-shared", "-O2", "-s", "-o", dll, filepath.Join("shim", "processprng.c"), "-ladvapi32")
	if out, err := cc.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the ProcessPrng shim: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "Wine prefix %s ready in %s\n", e.prefix, time.Since(start).Round(100*time.Millisecond))
	return e, nil
}

func (e *wineEnv) tearDown() {
	_ = e.cmd(context.Background(), "wineserver", "-k").Run()
	_ = e.cmd(context.Background(), "wineserver", "-w").Run()
	_ = os.RemoveAll(e.root)
}

// cmd runs a program (wine, wineserver, wineboot) in the test prefix.
func (e *wineEnv) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "WINEPREFIX="+e.prefix, "WINEDEBUG=-all",
		"WINEDLLOVERRIDES=mscoree,mshtml=", "DISPLAY=", "LANG=C.UTF-8")
	// A Wine program may leave a process behind holding its output
	// pipes; do not wait on them for ever once the program has ended.
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// win runs a Windows program under Wine: winPathOrLinux is a Linux path to
// an .exe, or a Windows program name such as sc.exe.
func (e *wineEnv) win(ctx context.Context, program string, args ...string) *exec.Cmd {
	return e.cmd(ctx, e.wine, append([]string{program}, args...)...)
}

// ppsync runs ppsync.exe with args and returns its combined output and error.
func (e *wineEnv) ppsync(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := e.win(ctx, e.exe, args...).CombinedOutput()
	return string(out), err
}

// must runs ppsync.exe and fails the test on a non-zero exit.
func (e *wineEnv) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.ppsync(t, 2*time.Minute, args...)
	if err != nil {
		t.Fatalf("ppsync.exe %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cPath is the Linux path of a path on the prefix's C: drive.
func (e *wineEnv) cPath(win string) string {
	rest, ok := strings.CutPrefix(win, `C:\`)
	if !ok {
		panic("not on C: " + win)
	}
	return filepath.Join(append([]string{e.prefix, "drive_c"}, strings.Split(rest, `\`)...)...)
}

// testDir makes a fresh folder C:\t\<name> and returns its Windows path.
func (e *wineEnv) testDir(t *testing.T) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	win := `C:\t\` + name
	if err := os.RemoveAll(e.cPath(win)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.cPath(win), 0o755); err != nil {
		t.Fatal(err)
	}
	return win
}

const apiKey = "pp_test_wine"

// mappedShare is what drive M: maps (see setUp).
const mappedShare = `C:\mapped-share`

// startEmulator serves the API emulator on loopback; Wine programs reach it there.
func startEmulator(t *testing.T) string {
	t.Helper()
	emu := emulator.New(emulator.Options{APIKeys: []string{apiKey}, Credits: 1000, ProcessingTime: 20 * time.Millisecond, TempDir: t.TempDir()})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	return srv.URL
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// setup is one test's config: its folder, inbox, admin address.
type setup struct {
	dir, config, inbox, state, admin string
}

// writeConfig writes C:\t\<test>\config.toml and the env file with the key
// beside it; extra is added to the [[inbox]] table.
func (e *wineEnv) writeConfig(t *testing.T, api, inbox, extra string) setup {
	t.Helper()
	return e.writeConfigIn(t, e.testDir(t), api, inbox, extra)
}

// writeConfigIn is writeConfig into the folder dir (a Windows path, made
// if missing).
func (e *wineEnv) writeConfigIn(t *testing.T, dir, api, inbox, extra string) setup {
	t.Helper()
	s := setup{dir: dir, config: dir + `\config.toml`, inbox: inbox, state: dir + `\state.db`, admin: freePort(t)}
	if s.inbox == "" {
		s.inbox = dir + `\inbox`
	}
	if strings.HasPrefix(s.inbox, `C:\`) {
		if err := os.MkdirAll(e.cPath(s.inbox), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`[api]
base_url = %q
api_key_env = "PP_API_KEY"
rate_window = "2s"

[state]
path = '%s'

[poll]
interval = "500ms"

[upload]
batch_window = "200ms"

[admin]
listen = %q

[[inbox]]
path = '%s'
parser_id = "prs_invoice"
settle = "300ms"
%s`, api, s.state, s.admin, s.inbox, extra)
	writeFile(t, e.cPath(s.config), cfg)
	writeFile(t, e.cPath(dir+`\env`), "PP_API_KEY="+apiKey+"\n")
	return s
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dropInvoice writes invoice n as a complete PDF at the Linux path dst,
// through a temp name outside the inbox and a rename, as a scanner would.
func dropInvoice(t *testing.T, dst string, n int) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(filepath.Dir(dst)), fmt.Sprintf(".drop-%d.tmp", n))
	if err := samples.Generate(7, n, 1).WriteFile(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// daemon is `ppsync.exe run` in the background.
type daemon struct {
	cmd  *exec.Cmd
	out  *testlog.Buffer
	done chan error
}

// startDaemon runs `ppsync.exe run -c config` and waits for its admin endpoint.
func (e *wineEnv) startDaemon(t *testing.T, s setup) *daemon {
	t.Helper()
	d := &daemon{cmd: e.win(context.Background(), e.exe, "run", "-c", s.config), out: &testlog.Buffer{}, done: make(chan error, 1)}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("ppsync.exe run output:\n%s", d.out.String())
		}
	})
	waitFor(t, "the daemon's admin endpoint", 90*time.Second, func() bool {
		select {
		case err := <-d.done:
			t.Fatalf("ppsync.exe run ended at start-up: %v\n%s", err, d.out.String())
		default:
		}
		resp, err := http.Get("http://" + s.admin + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return d
}

// stop sends Ctrl+C (Wine turns SIGINT into a console control event, which
// Go's os/signal receives as os.Interrupt) and waits for the exit.
func (d *daemon) stop(t *testing.T) error {
	t.Helper()
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("ppsync.exe run did not stop within 60 s of Ctrl+C:\n%s", d.out.String())
	}
	return nil
}

// signIn opens the one-time sign-in link that `ppsync status` printed
// (statusOut), as a person would in a browser, and returns a client that
// holds the session it gives.
func signIn(t *testing.T, statusOut string) *http.Client {
	t.Helper()
	m := regexp.MustCompile(`sign in:\s+(http://\S+/ui/login\?code=\S+)`).FindStringSubmatch(statusOut)
	if m == nil {
		t.Fatalf("ppsync status printed no sign-in link:\n%s", statusOut)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if code, body := get(t, c, m[1]); code != http.StatusOK {
		t.Fatalf("sign-in link %s: %d %.300s", m[1], code, body)
	}
	return c
}

// tokenClient returns a client that sends the token the daemon of s wrote
// for local clients (<state>.admin-token), as the CLI does.
func (e *wineEnv) tokenClient(t *testing.T, s setup) *http.Client {
	t.Helper()
	tok := strings.TrimSpace(readFile(t, e.cPath(s.state+".admin-token")))
	return &http.Client{Transport: bearer{tok}}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
