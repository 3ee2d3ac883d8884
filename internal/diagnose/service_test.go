package diagnose_test

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/diagnose"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadUnitWithDropIns(t *testing.T) {
	dir := t.TempDir()
	unit := filepath.Join(dir, "ppsync.service")
	writeFile(t, unit, `[Unit]
ReadWritePaths=/not/the/service/section
[Service]
User=ppsync
Group=ppsync
StateDirectory=ppsync
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=true
ReadWritePaths=-/srv/ppsync "/srv/with space" \
  +/srv/continued
`)
	writeFile(t, filepath.Join(dir, "ppsync.service.d", "20-more.conf"), "[Service]\nReadWritePaths=/srv/scans\n")
	writeFile(t, filepath.Join(dir, "ppsync.service.d", "10-reset.conf"), "[Service]\nReadWritePaths=\nReadWritePaths=/srv/kept\nUser=scanner\n")
	u, err := diagnose.ReadUnit(unit)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/srv/kept", "/srv/scans"}; !slices.Equal(u.ReadWritePaths, want) {
		t.Errorf("ReadWritePaths %q, want %q (the drop-in's empty assignment resets the list)", u.ReadWritePaths, want)
	}
	if u.User != "scanner" || u.Group != "ppsync" || u.ProtectSystem != "strict" || !u.PrivateTmp || len(u.DropIns) != 2 {
		t.Errorf("unit %+v", u)
	}
	if !slices.Contains(u.StateDirs, "/var/lib/ppsync") {
		t.Errorf("state dirs %q", u.StateDirs)
	}
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"/srv/kept", true}, {"/srv/kept/sub/dir", true}, {"/srv/keptother", false}, {"/srv/scans", true},
		{"/srv/ppsync", false}, {"/var/lib/ppsync/state.db", true}, {"/tmp/inbox", false}, {"/home/ann/scans", false},
	} {
		if err := u.Writable(tc.path); (err == nil) != tc.ok {
			t.Errorf("Writable(%s) = %v, want ok %v", tc.path, err, tc.ok)
		}
	}
	// Without the drop-ins: the unit's own list, quoted and continued words too.
	only := filepath.Join(t.TempDir(), "ppsync.service")
	b, _ := os.ReadFile(unit)
	writeFile(t, only, string(b))
	u, err = diagnose.ReadUnit(only)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/srv/ppsync", "/srv/with space", "/srv/continued"}; !slices.Equal(u.ReadWritePaths, want) {
		t.Errorf("ReadWritePaths %q, want %q", u.ReadWritePaths, want)
	}
}

// A folder the service must write that the unit's sandbox keeps read-only
// is a problem whose fix is the ReadWritePaths= line to add.
func TestFoldersOutsideReadWritePaths(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	file := setup(t, "prs_invoice", "")
	root := filepath.Dir(file)
	inbox := filepath.Join(root, "inbox")
	text, _ := os.ReadFile(file)
	writeFile(t, file, string(text)+"results_dir = \"results\"\n")
	unit := filepath.Join(t.TempDir(), "ppsync.service")
	writeFile(t, unit, "[Service]\nUser="+me.Username+"\nProtectSystem=strict\nStateDirectory=ppsync\nReadWritePaths=-/srv/ppsync\n")
	o := diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key}), UnitFile: unit}
	r := diagnose.Run(context.Background(), file, o)
	c := find(t, r, "inbox "+inbox)
	if c.OK || !strings.Contains(c.Result, "ProtectSystem=strict") || !strings.Contains(c.Fix, "ReadWritePaths=-"+inbox) {
		t.Errorf("inbox outside ReadWritePaths: %+v", c)
	}
	c = find(t, r, "results_dir "+filepath.Join(root, "results"))
	if c.OK || !strings.Contains(c.Fix, "ReadWritePaths=-"+filepath.Join(root, "results")) {
		t.Errorf("results_dir outside ReadWritePaths: %+v", c)
	}
	c = find(t, r, "folder of the state "+filepath.Join(root, "var", "state.db"))
	if c.OK || !strings.Contains(c.Fix, "ReadWritePaths=-"+filepath.Join(root, "var")) {
		t.Errorf("state outside ReadWritePaths: %+v", c)
	}

	// A drop-in that adds the folder: all well.
	writeFile(t, filepath.Join(unit+".d", "override.conf"), "[Service]\nReadWritePaths="+root+"\n")
	r = diagnose.Run(context.Background(), file, o)
	if r.Problems() != 0 {
		t.Errorf("with the folder in ReadWritePaths: %+v", r.Checks)
	}
	if c := find(t, r, "systemd unit "+unit); !strings.Contains(c.Result, "override.conf") {
		t.Errorf("the drop-in is not named: %+v", c)
	}
}

// As root, the folders are tested as the service's user in a child
// process with its credentials: a root-owned inbox root could write is
// not writable for the service.
func TestFoldersAreTestedAsTheServiceUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: testing as another user needs root (CI runs as root); the service-user test did not run")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("SKIPPED: no user nobody here (%v)", err)
	}
	file := setup(t, "prs_invoice", "")
	root := filepath.Dir(file)
	// t.TempDir makes 0700 folders: open the way down for the service user.
	for p := root; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inbox := filepath.Join(root, "inbox")
	o := diagnose.Options{Getenv: env(map[string]string{"PP_API_KEY": key}), UnitFile: "none", ServiceUser: "nobody"}
	r := diagnose.Run(context.Background(), file, o)
	if c := find(t, r, "service user nobody"); !c.OK || !strings.Contains(c.Result, "uid "+nobody.Uid) {
		t.Errorf("service user: %+v", c)
	}
	if c := find(t, r, "inbox "+inbox); c.OK || !strings.Contains(c.Result, "the nobody user: cannot be written") {
		t.Errorf("root-owned inbox, 0755: %+v", c)
	}
	if c := find(t, r, "folder of the state "); c.OK || !strings.Contains(c.Result, "the nobody user") {
		t.Errorf("state folder to be made in a root-owned folder: %+v", c)
	}
	var out strings.Builder
	r.Write(&out)
	if !strings.Contains(out.String(), "give the service user read and write access") {
		t.Errorf("no fix for the inbox:\n%s", out.String())
	}

	for _, p := range []string{inbox, root} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	r = diagnose.Run(context.Background(), file, o)
	if r.Problems() != 0 {
		t.Errorf("writable folders: %+v", r.Checks)
	}
	if entries, _ := os.ReadDir(inbox); len(entries) != 0 {
		t.Errorf("the probe left %d files in the inbox", len(entries))
	}
}
