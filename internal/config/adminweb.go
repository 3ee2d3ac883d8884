package config

import (
	"errors"
	"os"
	"runtime"

	"golang.org/x/crypto/bcrypt"
)

// DefaultUploadMaxSize caps a file uploaded from the status page.
const DefaultUploadMaxSize = 50 << 20

// MinBcryptCost is the lowest bcrypt cost accepted without a warning.
const MinBcryptCost = 10

// AdminTokenFile is where the daemon of the state at statePath writes its
// admin token at start (mode 0600, replaced at every start), for the CLI
// and for curl: beside the state file, named after it.
func AdminTokenFile(statePath string) string { return statePath + ".admin-token" }

// adminWeb validates the status page's keys of [admin]: upload, auth, TLS.
func (v *validator) adminWeb() {
	a := &v.c.Admin
	if !a.UploadMaxSize.set {
		a.UploadMaxSize.Bytes = DefaultUploadMaxSize
	} else if a.UploadMaxSize.Bytes <= 0 {
		v.fail("admin.upload_max_size", "must be more than 0, such as \"50MiB\"")
	}
	if a.AuthPasswordHash != "" {
		if cost, err := bcrypt.Cost([]byte(a.AuthPasswordHash)); err != nil {
			v.fail("admin.auth_password_hash", "is not a bcrypt hash (%v): make one with 'htpasswd -nbBC 12 \"\" PASSWORD | cut -d: -f2'", err)
		} else if cost < MinBcryptCost {
			v.warn("admin.auth_password_hash", "the bcrypt cost is %d, cheap to guess offline if the config leaks: make a new hash with cost 12 ('htpasswd -nbBC 12 \"\" PASSWORD | cut -d: -f2')", cost)
		}
		if a.TLSCert == "" && a.Listen != "off" && !isLoopback(a.Listen) {
			v.warn("admin.auth_password_hash", "the password is accepted over plain HTTP on %s, which other machines can reach: anyone on the network path can read it; set tls_cert and tls_key, or listen on 127.0.0.1 and use an SSH tunnel", a.Listen)
		}
	}
	if a.AuthTokenFile != "" {
		a.AuthTokenFile = v.abs(a.AuthTokenFile)
		if st, err := os.Stat(a.AuthTokenFile); err != nil {
			v.fail("admin.auth_token_file", "cannot read %s: %v", a.AuthTokenFile, errors.Unwrap(err))
		} else if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
			v.warn("admin.auth_token_file", "%s can be read by other users (mode %v): chmod 600 it", a.AuthTokenFile, st.Mode().Perm())
		}
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		v.fail("admin.tls_cert", "set both tls_cert and tls_key, or neither")
	}
	for _, f := range []struct {
		key  string
		path *string
	}{{"admin.tls_cert", &a.TLSCert}, {"admin.tls_key", &a.TLSKey}} {
		if *f.path == "" {
			continue
		}
		*f.path = v.abs(*f.path)
		if _, err := os.Stat(*f.path); err != nil {
			v.fail(f.key, "cannot read %s: %v", *f.path, errors.Unwrap(err))
		}
	}
}
