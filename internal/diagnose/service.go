package diagnose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ppsync/ppsync/internal/config"
)

// DefaultServiceUser is the account the packages create and the unit names.
const DefaultServiceUser = "ppsync"

// service is the side of the service `check` tests against: the user it
// runs as (nil when the folders are tested as the current user) and the
// sandbox of its systemd unit (nil when none is installed).
type service struct {
	acct *account
	unit *Unit
}

// serviceOf finds the service's user and unit as o says, and reports them.
func serviceOf(r *Result, o Options) service {
	var s service
	if runtime.GOOS != "windows" && o.UnitFile != "none" {
		path := o.UnitFile
		if path == "" {
			path = FindUnit(UnitPaths)
		}
		if path != "" {
			u, err := ReadUnit(path)
			if err != nil {
				r.add(false, "systemd unit "+path, err.Error(), "fix or reinstall the unit ('ppsync install')")
			} else {
				s.unit = &u
				what := fmt.Sprintf("user %s, ProtectSystem=%s, ReadWritePaths=%s", orNone(u.User), orNone(u.ProtectSystem), orNone(strings.Join(u.ReadWritePaths, " ")))
				if len(u.DropIns) > 0 {
					what += ", with " + strings.Join(u.DropIns, ", ")
				}
				r.add(true, "systemd unit "+path, what, "")
			}
		}
	}
	name, from := o.ServiceUser, "--service-user"
	if name == "" && s.unit != nil && s.unit.User != "" {
		name, from = s.unit.User, s.unit.Path
	}
	group := ""
	if s.unit != nil && name == s.unit.User {
		group = s.unit.Group
	}
	if name == "" {
		name, from = DefaultServiceUser, "the default"
		if _, err := lookupAccount(name, ""); err != nil {
			return s // no service user on this machine: checked as the current user
		}
	}
	what := "service user " + name
	a, err := lookupAccount(name, group)
	switch {
	case err != nil:
		r.add(false, what, fmt.Sprintf("(from %s) does not exist: %v", from, err),
			"create it ('useradd --system --home-dir /var/lib/ppsync --shell /usr/sbin/nologin "+name+"'), or pass --service-user")
	case a.isCurrent():
		r.add(true, what, "(from "+from+") is the user running this check: folders are tested as it", "")
	case canSwitch():
		s.acct = a
		r.add(true, what, fmt.Sprintf("(from %s): folders are tested as uid %d, gid %d", from, a.UID, a.GID), "")
	default:
		r.add(true, what, "(from "+from+"): folders were tested as the current user, not as "+name+
			"; run 'sudo ppsync check' to test them as the service will use them", "")
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// userName is who a folder is tested as.
func (s service) userName() string {
	if s.acct != nil {
		return "the " + s.acct.Name + " user"
	}
	return "this user"
}

// access tests path as the service user (or the current one): readable,
// and with write, writable. A path not made yet is tested where it will be
// made: in the nearest existing folder above it.
func (s service) access(path string, write bool) (at string, err error) {
	at = path
	for {
		if _, err := os.Stat(at); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		parent := filepath.Dir(at)
		if parent == at {
			break
		}
		at = parent
	}
	if s.acct != nil {
		return at, accessAs(s.acct, at, write)
	}
	return at, accessHere(at, write)
}

// accessHere tests path as the current user.
func accessHere(path string, write bool) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		mode := os.O_RDONLY
		if write {
			mode = os.O_RDWR
		}
		f, err := os.OpenFile(path, mode, 0)
		if err != nil {
			return err
		}
		return f.Close()
	}
	if _, err := os.ReadDir(path); err != nil {
		return err
	}
	if !write {
		return nil
	}
	probe, err := os.CreateTemp(path, ".ppsync-check-*.tmp")
	if err != nil {
		return err
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// sandbox says whether the unit lets the service write below path: nil,
// or a problem whose fix names the line to add.
func (s service) sandbox(r *Result, what, path string) bool {
	if s.unit == nil {
		return true
	}
	err := s.unit.Writable(path)
	if err == nil {
		return true
	}
	fix := fmt.Sprintf("add the line 'ReadWritePaths=-%s' to the [Service] section ('systemctl edit ppsync' writes a drop-in), then 'systemctl restart ppsync'", unitQuote(path))
	if s.unit.PrivateTmp && (under(path, "/tmp") || under(path, "/var/tmp")) {
		fix = "move it out of /tmp and /var/tmp (the service has a private /tmp), e.g. under /srv"
	}
	r.add(false, what, fmt.Sprintf("the service cannot write here: %v (unit %s)", err, s.unit.Path), fix)
	return false
}

func unitQuote(p string) string {
	if strings.ContainsAny(p, " \t") {
		return `"` + p + `"`
	}
	return p
}

// checkFolders tests, as the service will use them, the folders an inbox
// writes to besides itself: results_dir, and the processed and failed
// folders of after = "move".
func checkFolders(r *Result, in config.Inbox, s service) {
	type folder struct{ what, path string }
	var fs []folder
	if in.ResultsDir != "" {
		fs = append(fs, folder{"results_dir", in.ResultsDir})
	}
	if in.After == "move" {
		fs = append(fs, folder{"processed_dir", in.ProcessedDir}, folder{"failed_dir", in.FailedDir})
	}
	for _, f := range fs {
		what := fmt.Sprintf("%s %s (inbox %s)", f.what, f.path, in.Path)
		if !s.sandbox(r, what, f.path) {
			continue
		}
		at, err := s.access(f.path, true)
		switch {
		case err != nil:
			r.add(false, what, fmt.Sprintf("%s %s: %v", s.userName(), folderVerb(at, f.path), err),
				"give the service user write access to "+at+" (chown or chmod it, or an ACL)")
		case at != f.path:
			r.add(true, what, "not made yet; "+s.userName()+" can make it in "+at, "")
		default:
			r.add(true, what, "writable by "+s.userName(), "")
		}
	}
}

func folderVerb(at, path string) string {
	if at != path {
		return "cannot make it: " + at
	}
	return "cannot use it"
}

// checkStateAccess tests the state file and its folder as the service
// will use them.
func checkStateAccess(r *Result, path string, s service) {
	what := "folder of the state " + path
	dir := filepath.Dir(path)
	if !s.sandbox(r, what, dir) {
		return
	}
	if _, err := os.Stat(path); err == nil {
		if _, err := s.access(path, true); err != nil {
			r.add(false, what, fmt.Sprintf("%s: the state file %v", s.userName(), err),
				"chown the state file to the service user (and its folder), e.g. 'chown -R ppsync: "+dir+"'")
			return
		}
	}
	if s.unit != nil && inStateDirs(s.unit, dir) {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			r.add(true, what, "its folder is the unit's own; systemd makes it at start", "")
			return
		}
	}
	at, err := s.access(dir, true)
	if err != nil {
		r.add(false, what, fmt.Sprintf("%s: folder %s %v (the state, its lock and the admin token are written there)", s.userName(), at, err),
			"chown "+at+" to the service user, or set [state] path to a folder it owns")
		return
	}
	r.add(true, what, "readable and writable by "+s.userName(), "")
}

func inStateDirs(u *Unit, p string) bool {
	for _, d := range u.StateDirs {
		if under(p, d) {
			return true
		}
	}
	return false
}
