package admin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeToken makes a new random token and writes it to path, mode 0600,
// replacing whatever was there (a stale token of an earlier run). The file
// is written under a temporary name and renamed, so a reader never sees
// half a token.
func writeToken(path string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok := hex.EncodeToString(b)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("admin token: cannot write %s: %w (the daemon needs to write beside its state file)", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; say so again in case of odd umasks.
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.WriteString(tok + "\n")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return "", fmt.Errorf("admin token: cannot write %s: %w", path, err)
	}
	return tok, nil
}

// removeToken deletes the token file if it still holds tok (a daemon
// started since has its own).
func removeToken(path, tok string) {
	b, err := os.ReadFile(path)
	if err == nil && bytes.Equal(bytes.TrimSpace(b), []byte(tok)) {
		_ = os.Remove(path)
	}
}

// readLocalToken reads the daemon's token file for the CLI.
func readLocalToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrPermission):
		return "", fmt.Errorf("cannot read the admin token %s: permission denied; only the account the daemon runs as (and root) can: run this command as that user (e.g. 'sudo -u ppsync ppsync ...') or as root", path)
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("the admin token %s does not exist: the daemon at this address does not serve this config's state, or it is not running", path)
	case err != nil:
		return "", fmt.Errorf("cannot read the admin token %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("the admin token %s is empty: restart the daemon to write a new one", path)
	}
	return tok, nil
}
