//go:build linux

// Package packaging holds the package definitions; its test builds the
// packages, checks what they install and how (lintian, systemd-analyze,
// the man page, the checksums), and installs the .deb the way the README
// says.
package packaging_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testVersion = "1.2.3"

// heavyEnv, set to 1, builds the packages for every architecture (the
// default run builds the host's only).
const heavyEnv = "PPSYNC_TEST_HEAVY"

// testContext ends shortly before the test's own deadline (go test
// -timeout), so a slow step fails the test with its own message instead of
// the whole binary panicking, and leaves time for the clean-up.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		margin := min(time.Until(d)/10, time.Minute)
		c, cancel := context.WithDeadline(ctx, d.Add(-margin))
		t.Cleanup(cancel)
		ctx = c
	}
	return ctx
}

// command is exec.CommandContext in a process group of its own: when ctx
// ends, or the test does, the whole group is killed, so no build.sh or go
// build it started outlives the test.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error {
		return syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	c.WaitDelay = 10 * time.Second
	return c
}

// deadlineHint says what to do when a step was stopped by the test's
// deadline.
func deadlineHint(ctx context.Context, err error) string {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return " (stopped at the test's deadline: a cold Go cache builds nfpm and the binaries from scratch; run with a longer go test -timeout, e.g. -timeout 30m)"
	}
	return ""
}

// arches are the Linux architectures the test builds.
func arches() []string {
	if os.Getenv(heavyEnv) == "1" {
		return []string{"amd64", "arm64"}
	}
	return []string{runtime.GOARCH}
}

// need finds a tool the test needs: without it the test is skipped
// locally and fails in CI.
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (apt-get install %s; .ci/run installs it)", tool, pkg)
		}
		t.Skipf("SKIPPED: %s not installed (apt-get install %s)", tool, pkg)
	}
	return p
}

// TestPackagesAndInstall builds everything once with packaging/build.sh,
// then checks the result from several sides.
func TestPackagesAndInstall(t *testing.T) {
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: builds the packages (a minute or more)")
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("SKIPPED: packages are built for amd64 and arm64, this is %s", runtime.GOARCH)
	}
	scripts, _ := filepath.Glob(filepath.Join("scripts", "*.sh"))
	debScripts, _ := filepath.Glob(filepath.Join("scripts", "deb", "*.sh"))
	for _, s := range append(scripts, debScripts...) {
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("%s: %v %s", s, err, out)
		}
	}
	dist := t.TempDir()
	ctx := testContext(t)
	cmd := command(ctx, "bash", "packaging/build.sh", testVersion)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "PPSYNC_DIST="+dist, "PPSYNC_ARCHES="+strings.Join(arches(), " "), "TMPDIR="+t.TempDir())
	started := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v%s\n%s", err, deadlineHint(ctx, err), out)
	}
	t.Logf("build.sh for %s took %v (%s=1 builds every architecture)", strings.Join(arches(), ", "), time.Since(started).Round(time.Second), heavyEnv)
	deb := filepath.Join(dist, "ppsync_"+testVersion+"_"+runtime.GOARCH+".deb")
	bin := filepath.Join(dist, "linux-"+runtime.GOARCH, "ppsync")
	root := t.TempDir() // the .deb's files, unpacked
	if out, err := exec.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v %s", err, out)
	}

	t.Run("Artifacts", func(t *testing.T) { testArtifacts(t, dist) })
	t.Run("Contents", func(t *testing.T) { testContents(t, dpkgDeb, deb, bin) })
	t.Run("Lintian", func(t *testing.T) { testLintian(t, deb) })
	t.Run("Rpmlint", func(t *testing.T) { testRpmlint(t, dist) })
	t.Run("ManPage", func(t *testing.T) { testManPage(t, root, bin) })
	t.Run("SystemdAnalyzeVerify", func(t *testing.T) { testSystemdVerify(t, root, bin) })
	t.Run("InstallPerREADME", func(t *testing.T) { testInstallPerREADME(t, deb) })
}

func testArtifacts(t *testing.T, dist string) {
	want := []string{"windows-amd64/ppsync.exe"}
	rpmArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}
	for _, a := range arches() {
		want = append(want, "ppsync_"+testVersion+"_"+a+".deb", "ppsync-"+testVersion+"-1."+rpmArch[a]+".rpm", "linux-"+a+"/ppsync")
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatalf("no SHA256SUMS beside the packages: %v", err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(sums)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || len(f[0]) != 64 {
			t.Errorf("SHA256SUMS line %q is not '<sha256>  <file>'", sc.Text())
			continue
		}
		listed[f[1]] = true
	}
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			t.Errorf("missing %s", f)
		}
		if !listed[f] {
			t.Errorf("SHA256SUMS does not list %s:\n%s", f, sums)
		}
	}
	sha := need(t, "sha256sum", "coreutils")
	c := exec.Command(sha, "--strict", "-c", "SHA256SUMS")
	c.Dir = dist
	if out, err := c.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
}

func testContents(t *testing.T, dpkgDeb, deb, bin string) {
	out, err := exec.Command(dpkgDeb, "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	contents := string(out)
	for _, want := range []string{
		"-rwxr-xr-x root/root", "./usr/bin/ppsync",
		"-rw-r----- root/ppsync", "./etc/ppsync/config.toml",
		"-rw------- root/root", "./etc/ppsync/env",
		"-rw-r--r-- root/root", "./lib/systemd/system/ppsync.service",
		"./lib/systemd/system/ppsync@.service",
		"./usr/share/doc/ppsync/config.example.toml",
		"./usr/share/doc/ppsync/copyright",
		"./usr/share/doc/ppsync/changelog.gz",
		"./usr/share/man/man1/ppsync.1.gz",
		"./usr/share/bash-completion/completions/ppsync",
		"./usr/share/zsh/vendor-completions/_ppsync",
		"./usr/share/fish/vendor_completions.d/ppsync.fish",
		"./usr/share/ppsync/monitoring/ppsync-alerts.yml",
		"./usr/share/ppsync/monitoring/ppsync-alerts.test.yml",
		"./usr/share/ppsync/monitoring/ppsync-dashboard.json",
	} {
		if !strings.Contains(contents, want) {
			t.Errorf("package contents lack %q:\n%s", want, contents)
		}
	}
	for _, line := range strings.Split(contents, "\n") {
		if strings.HasSuffix(line, "./etc/ppsync/env") && !strings.HasPrefix(line, "-rw------- ") {
			t.Errorf("env file (holds the key) is not 0600: %s", line)
		}
		if strings.Contains(line, "./srv/") {
			t.Errorf("the package ships files under /srv (Debian policy: the admin's; postinst creates the inbox): %s", line)
		}
	}
	conf, err := exec.Command("sh", "-c", dpkgDeb+" --ctrl-tarfile "+deb+" | tar -xO ./conffiles").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "/etc/ppsync/config.toml") || !strings.Contains(string(conf), "/etc/ppsync/env") {
		t.Errorf("conffiles = %q: the config must survive upgrades", conf)
	}
	info, _ := exec.Command(dpkgDeb, "-I", deb).Output()
	for _, want := range []string{"Package: ppsync", "Version: " + testVersion, "preinst", "postinst", "prerm", "postrm"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("control lacks %q", want)
		}
	}
	changelog, err := exec.Command("sh", "-c", dpkgDeb+" --fsys-tarfile "+deb+" | tar -xO ./usr/share/doc/ppsync/changelog.gz | gzip -dc").Output()
	if err != nil || !strings.HasPrefix(string(changelog), "ppsync ("+testVersion+") ") {
		t.Errorf("changelog.gz does not start with this version's entry: %v\n%s", err, changelog)
	}
	// The units in the package are the golden units; the binary reports the stamped version.
	for _, name := range []string{"ppsync.service", "ppsync@.service"} {
		unit, _ := exec.Command("sh", "-c", dpkgDeb+" --fsys-tarfile "+deb+" | tar -xO ./lib/systemd/system/"+name).Output()
		golden, _ := os.ReadFile(name)
		if len(golden) == 0 || string(unit) != string(golden) {
			t.Errorf("packaged unit %s differs from packaging/%s", name, name)
		}
	}
	v, err := exec.Command(bin, "version").Output()
	first, _, _ := strings.Cut(string(v), "\n")
	if err != nil || first != "ppsync "+testVersion || !strings.Contains(string(v), "\ncommit:      ") ||
		strings.Contains(string(v), "commit:      unknown") || !strings.Contains(string(v), "\ncommit date: ") {
		t.Errorf("version = %q %v: want the stamped version, its commit and commit date", v, err)
	}
	// The completion scripts are the binary's own, and parse.
	for shell, path := range map[string]string{"bash": "./usr/share/bash-completion/completions/ppsync",
		"zsh": "./usr/share/zsh/vendor-completions/_ppsync", "fish": "./usr/share/fish/vendor_completions.d/ppsync.fish"} {
		packaged, _ := exec.Command("sh", "-c", dpkgDeb+" --fsys-tarfile "+deb+" | tar -xO "+path).Output()
		want, err := exec.Command(bin, "completion", shell).Output()
		if err != nil || len(want) == 0 || string(packaged) != string(want) {
			t.Errorf("packaged %s differs from 'ppsync completion %s' (%v)", path, shell, err)
		}
	}
	cfg, _ := os.ReadFile("config.toml")
	if !strings.Contains(string(cfg), `path = "/var/lib/ppsync/state.db"`) {
		t.Error("packaged config does not keep the state in /var/lib/ppsync")
	}
}

// lintian reports no errors and no warnings (deliberate file modes are
// overridden in packaging/lintian-overrides, each with its reason).
func testLintian(t *testing.T, deb string) {
	lintian := need(t, "lintian", "lintian")
	out, err := exec.Command(lintian, "--tag-display-limit", "0", deb).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
	if err != nil && !t.Failed() {
		t.Errorf("lintian: %v\n%s", err, out)
	}
	t.Logf("lintian:\n%s", out)
}

// The shipped page renders without warnings, the way lintian and man-db
// render it, and documents every command the binary's help lists.
func testManPage(t *testing.T, root, bin string) {
	man := need(t, "man", "man-db")
	page := filepath.Join(root, "usr", "share", "man", "man1", "ppsync.1.gz")
	c := exec.Command(man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page)
	c.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=80", "MANROFFSEQ=")
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("man --warnings -l ppsync.1.gz: %v\n%s", err, stderr.String())
	}
	c = exec.Command(man, "-l", page)
	c.Env = append(os.Environ(), "MANWIDTH=100", "MANPAGER=cat", "PAGER=cat")
	text, err := c.Output()
	if err != nil {
		t.Fatalf("man -l ppsync.1.gz: %v", err)
	}
	help, err := exec.Command(bin, "help").Output()
	if err != nil {
		t.Fatalf("ppsync help: %v", err)
	}
	commands := 0
	for _, line := range strings.Split(string(help), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(line, "  ") || strings.HasPrefix(f[0], "-") {
			continue
		}
		commands++
		if !strings.Contains(string(text), "\n   "+f[0]+"\n") {
			t.Errorf("the man page has no section for command %q", f[0])
		}
	}
	if commands == 0 {
		t.Errorf("found no commands in ppsync help:\n%s", help)
	}
	for _, want := range []string{"NAME", "ppsync - ", "SYNOPSIS", "COMMANDS", "FILES", "/etc/ppsync/env", "Usage: ppsync run", "ppsync " + testVersion,
		"SIGNALS", "ENVIRONMENT", "EXIT STATUS", "CONFIGURATION", "PP_API_KEY", "incomplete_after"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("rendered man page lacks %q", want)
		}
	}
}

// systemd-analyze verify, with the man-page check on: the units'
// Documentation=man:ppsync(1) must resolve to the shipped page. The
// template is verified as an instance (ppsync@acme.service).
func testSystemdVerify(t *testing.T, root, bin string) {
	sa := need(t, "systemd-analyze", "systemd")
	need(t, "man", "man-db")
	dir := t.TempDir()
	for _, name := range []string{"ppsync.service", "ppsync@.service"} {
		unit, err := os.ReadFile(filepath.Join(root, "lib", "systemd", "system", name))
		if err != nil {
			t.Fatal(err)
		}
		// Point ExecStart at the built binary: /usr/bin/ppsync is not installed here.
		text := strings.Replace(string(unit), "ExecStart=/usr/bin/ppsync ", "ExecStart="+bin+" ", 1)
		if text == string(unit) {
			t.Fatalf("%s has no ExecStart=/usr/bin/ppsync", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, verify := range []string{"ppsync.service", "ppsync@acme.service"} {
		c := exec.Command(sa, "verify", filepath.Join(dir, verify))
		c.Env = append(os.Environ(), "MANPATH="+filepath.Join(root, "usr", "share", "man"))
		out, err := c.CombinedOutput()
		// Lines about the host (no systemd running in a container, and so on)
		// are not about the unit; any line naming a unit file is.
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "ppsync.service") || strings.Contains(line, "ppsync@") || strings.Contains(line, "ppsync(1)") {
				t.Errorf("systemd-analyze verify %s: %s", verify, line)
			}
		}
		t.Logf("systemd-analyze verify %s (man check on): %v\n%s", verify, err, out)
	}
}

// rpmlint reports no errors and no warnings on the .rpm; what it reports
// on purpose is filtered, each with its reason, in packaging/rpmlintrc.
func testRpmlint(t *testing.T, dist string) {
	rpmlint := need(t, "rpmlint", "rpmlint")
	rpms, _ := filepath.Glob(filepath.Join(dist, "*.rpm"))
	for _, r := range rpms {
		list, err := exec.Command("rpm", "-qlp", r).Output()
		for _, want := range []string{"/usr/share/bash-completion/completions/ppsync", "/usr/share/zsh/site-functions/_ppsync", "/usr/share/fish/vendor_completions.d/ppsync.fish"} {
			if err != nil || !strings.Contains(string(list), want+"\n") {
				t.Errorf("%s lacks %s (%v)", filepath.Base(r), want, err)
			}
		}
	}
	if len(rpms) == 0 {
		t.Fatal("no .rpm built")
	}
	rc, err := filepath.Abs("rpmlintrc")
	if err != nil {
		t.Fatal(err)
	}
	// rpmlint unpacks the package with `rpm2cpio | cpio -id` in a temporary
	// folder, and nfpm's cpio members have absolute names, which GNU cpio
	// honours: unguarded it writes the package's files over the host's /.
	// A cpio first on PATH that keeps every name relative prevents that, and
	// the host's ppsync files are compared before and after.
	bin := t.TempDir()
	realCpio := need(t, "cpio", "cpio")
	wrapper := "#!/bin/sh\nexec " + realCpio + " --no-absolute-filenames \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "cpio"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	before := hostFacts(t)
	args := append([]string{"--rpmlintrc", rc}, rpms...)
	c := exec.Command(rpmlint, args...)
	c.Env = append(os.Environ(), "HOME="+t.TempDir(), // no user config of rpmlint's
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "TMPDIR="+t.TempDir())
	out, err := c.CombinedOutput()
	after := hostFacts(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("rpmlint changed the host: %s was %q, is %q", k, v, after[k])
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, ": E: ") || strings.Contains(line, ": W: ") {
			t.Errorf("rpmlint: %s", line)
		}
	}
	if err != nil && !t.Failed() {
		t.Errorf("rpmlint: %v\n%s", err, out)
	}
	t.Logf("rpmlint:\n%s", out)
}

// The template unit is the main unit with the names of one instance: the
// hardening cannot drift apart between them.
func TestTemplateUnitFollowsTheMainUnit(t *testing.T) {
	main, err := os.ReadFile("ppsync.service")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile("ppsync@.service")
	if err != nil {
		t.Fatal(err)
	}
	want := string(main)
	for _, r := range [][2]string{
		{"Description=ppsync (PerfectParser folder sync)\n", "Description=ppsync (PerfectParser folder sync), instance %i\n"},
		{"ExecStart=/usr/bin/ppsync run -c /etc/ppsync/config.toml\n", "ExecStart=/usr/bin/ppsync run -c /etc/ppsync/%i.toml\n"},
		{"# PP_API_KEY=... for the default api_key_env (mode 0600, owned by root).\n", "# PP_API_KEY=... of this instance (mode 0600, owned by root).\n"},
		{"EnvironmentFile=-/etc/ppsync/env\n", "EnvironmentFile=-/etc/ppsync/%i.env\n"},
		{"StateDirectory=ppsync\n", "StateDirectory=ppsync/%i\n"},
	} {
		if !strings.Contains(want, r[0]) {
			t.Fatalf("ppsync.service has no line %q: update this test and ppsync@.service together", strings.TrimSpace(r[0]))
		}
		want = strings.Replace(want, r[0], r[1], 1)
	}
	// The template's own header comment comes first.
	got := string(tmpl)
	if i := strings.Index(got, "[Unit]\n"); i > 0 {
		got = got[i:]
	}
	if got != want {
		t.Errorf("ppsync@.service is not ppsync.service with the instance's names:\n--- got\n%s\n--- want\n%s", got, want)
	}
	for _, line := range []string{"RestartPreventExitStatus=2", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure"} {
		if !strings.Contains(string(main), "\n"+line+"\n") {
			t.Errorf("ppsync.service lacks %s", line)
		}
	}
}

// What command starts ends with its context, children and grandchildren
// alike: a build stopped at the test's deadline leaves nothing running.
func TestCommandEndsItsWholeProcessGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := command(ctx, "bash", "-c", "sleep 300 & echo $!; wait")
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	sleepPID, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("bash printed %q, not the pid of its child", line)
	}
	if !running(sleepPID) {
		t.Fatalf("the grandchild %d is not running before the context ends", sleepPID)
	}
	cancel()
	_ = c.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for running(sleepPID) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(sleepPID, syscall.SIGKILL)
			t.Fatalf("the grandchild %d still runs 30 s after its command's context ended", sleepPID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports a live process: present, and not a zombie waiting to be
// reaped.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
