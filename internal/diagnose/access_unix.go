//go:build unix

package diagnose

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// account is the service's user, as a child process runs as it.
type account struct {
	Name   string
	UID    uint32
	GID    uint32
	Groups []uint32
}

// lookupAccount finds user name (and group, when set, as its primary group).
func lookupAccount(name, group string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	a := &account{Name: u.Username}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	a.UID, a.GID = uint32(uid), uint32(gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, err
		}
		if n, err := strconv.ParseUint(g.Gid, 10, 32); err == nil {
			a.GID = uint32(n)
		}
	}
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if n, err := strconv.ParseUint(id, 10, 32); err == nil {
			a.Groups = append(a.Groups, uint32(n))
		}
	}
	return a, nil
}

// canSwitch tells whether this process may run a child as another user.
func canSwitch() bool { return os.Geteuid() == 0 }

// isCurrent tells whether a is the user this process runs as.
func (a *account) isCurrent() bool { return a.UID == uint32(os.Geteuid()) }

// accessScript tests, as the user it runs as, that $1 can be reached and
// read (a folder: entered and listed) and, with $2 = w, written (a folder:
// a file created and removed in it). Its exit code says what failed.
const accessScript = `p="$1"
if [ -d "$p" ]; then
  [ -x "$p" ] && [ -r "$p" ] || exit 4
  if [ "$2" = w ]; then
    f="$p/.ppsync-check-$$.tmp"
    (: > "$f") 2>/dev/null || exit 5
    rm -f "$f" || exit 5
  fi
else
  [ -e "$p" ] || exit 3
  [ -r "$p" ] || exit 4
  if [ "$2" = w ]; then [ -w "$p" ] || exit 5; fi
fi
exit 0`

var (
	errUnreachable = errors.New("cannot be reached (a folder above it is closed to the user)")
	errNoRead      = errors.New("cannot be read")
	errNoWrite     = errors.New("cannot be written")
)

// accessAs tests path's access in a child process that runs as a, with
// a's uid, gid and groups: the kernel answers, ACLs, mount options and
// all. It is an error to call it without canSwitch.
func accessAs(a *account, path string, write bool) error {
	mode := "r"
	if write {
		mode = "w"
	}
	cmd := exec.Command("/bin/sh", "-c", accessScript, "sh", path, mode)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: a.Groups}}
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case 3:
			return errUnreachable
		case 4:
			return errNoRead
		case 5:
			return errNoWrite
		}
	}
	if err != nil {
		return fmt.Errorf("cannot test access as %s: %w", a.Name, err)
	}
	return nil
}
