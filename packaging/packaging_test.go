//go:build linux

// Package packaging holds the package definitions; its test builds the
// packages, checks what they install and how (lintian, systemd-analyze,
// the man page, the checksums), and installs the .deb the way the README
// says.
package packaging_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const testVersion = "1.2.3"

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
	cmd := exec.Command("bash", "packaging/build.sh", testVersion)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "PPSYNC_DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	deb := filepath.Join(dist, "ppsync_"+testVersion+"_"+runtime.GOARCH+".deb")
	bin := filepath.Join(dist, "linux-"+runtime.GOARCH, "ppsync")
	root := t.TempDir() // the .deb's files, unpacked
	if out, err := exec.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v %s", err, out)
	}

	t.Run("Artifacts", func(t *testing.T) { testArtifacts(t, dist) })
	t.Run("Contents", func(t *testing.T) { testContents(t, dpkgDeb, deb, bin) })
	t.Run("Lintian", func(t *testing.T) { testLintian(t, deb) })
	t.Run("ManPage", func(t *testing.T) { testManPage(t, root, bin) })
	t.Run("SystemdAnalyzeVerify", func(t *testing.T) { testSystemdVerify(t, root, bin) })
	t.Run("InstallPerREADME", func(t *testing.T) { testInstallPerREADME(t, deb) })
}

func testArtifacts(t *testing.T, dist string) {
	want := []string{
		"ppsync_" + testVersion + "_amd64.deb", "ppsync_" + testVersion + "_arm64.deb",
		"ppsync-" + testVersion + "-1.x86_64.rpm", "ppsync-" + testVersion + "-1.aarch64.rpm",
		"windows-amd64/ppsync.exe",
		"linux-amd64/ppsync", "linux-arm64/ppsync",
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
		"./usr/share/doc/ppsync/config.example.toml",
		"./usr/share/doc/ppsync/copyright",
		"./usr/share/doc/ppsync/changelog.gz",
		"./usr/share/man/man1/ppsync.1.gz",
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
	// The unit in the package is the golden unit; the binary reports the stamped version.
	unit, _ := exec.Command("sh", "-c", dpkgDeb+" --fsys-tarfile "+deb+" | tar -xO ./lib/systemd/system/ppsync.service").Output()
	golden, _ := os.ReadFile("ppsync.service")
	if string(unit) != string(golden) {
		t.Error("packaged unit differs from packaging/ppsync.service")
	}
	v, err := exec.Command(bin, "version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "ppsync "+testVersion {
		t.Errorf("version = %q %v", v, err)
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
	for _, want := range []string{"NAME", "ppsync - ", "SYNOPSIS", "COMMANDS", "FILES", "/etc/ppsync/env", "Usage: ppsync run", "ppsync " + testVersion} {
		if !strings.Contains(string(text), want) {
			t.Errorf("rendered man page lacks %q", want)
		}
	}
}

// systemd-analyze verify, with the man-page check on: the unit's
// Documentation=man:ppsync(1) must resolve to the shipped page.
func testSystemdVerify(t *testing.T, root, bin string) {
	sa := need(t, "systemd-analyze", "systemd")
	need(t, "man", "man-db")
	unit, err := os.ReadFile(filepath.Join(root, "lib", "systemd", "system", "ppsync.service"))
	if err != nil {
		t.Fatal(err)
	}
	// Point ExecStart at the built binary: /usr/bin/ppsync is not installed here.
	dir := t.TempDir()
	path := filepath.Join(dir, "ppsync.service")
	if err := os.WriteFile(path, []byte(strings.Replace(string(unit), "ExecStart=/usr/bin/ppsync ", "ExecStart="+bin+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(sa, "verify", path)
	c.Env = append(os.Environ(), "MANPATH="+filepath.Join(root, "usr", "share", "man"))
	out, err := c.CombinedOutput()
	// Lines about the host (no systemd running in a container, and so on)
	// are not about the unit; any line naming the unit file is.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "ppsync.service") || strings.Contains(line, "ppsync(1)") {
			t.Errorf("systemd-analyze: %s", line)
		}
	}
	t.Logf("systemd-analyze verify (man check on): %v\n%s", err, out)
}
