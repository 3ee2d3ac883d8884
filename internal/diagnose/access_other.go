//go:build !unix

package diagnose

import "errors"

type account struct {
	Name     string
	UID, GID uint32
}

func lookupAccount(name, group string) (*account, error) {
	return nil, errors.New("checking as another user is done on Unix only")
}

func canSwitch() bool { return false }

func (a *account) isCurrent() bool { return false }

func accessAs(a *account, path string, write bool) error {
	return errors.New("checking as another user is done on Unix only")
}
