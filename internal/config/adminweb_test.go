package config_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestAdminWebKeys(t *testing.T) {
	dir := setup(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"token", "cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("0123456789abcdef0123\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := parse(t, dir, "[admin]\nupload = true\nupload_max_size = \"10MiB\"\nauth_password_hash = \""+string(hash)+
		"\"\nauth_token_file = \"token\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n"+minimal)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Admin
	if !a.Upload || a.UploadMaxSize.Bytes != 10<<20 || a.AuthPasswordHash != string(hash) ||
		a.AuthTokenFile != filepath.Join(dir, "token") || a.TLSCert != filepath.Join(dir, "cert.pem") || a.TLSKey != filepath.Join(dir, "key.pem") {
		t.Fatalf("admin = %+v", a)
	}

	c, err = parse(t, dir, minimal)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Upload || c.Admin.UploadMaxSize.Bytes != 50<<20 || c.Admin.AuthPasswordHash != "" {
		t.Fatalf("defaults: upload %v max %d hash %q; want off, 50 MiB, none", c.Admin.Upload, c.Admin.UploadMaxSize.Bytes, c.Admin.AuthPasswordHash)
	}

	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"plain password", "[admin]\nauth_password_hash = \"secret\"\n", []string{"ppsync.toml:2", "admin.auth_password_hash", "not a bcrypt hash", "htpasswd"}},
		{"missing token file", "[admin]\nauth_token_file = \"nope\"\n", []string{"ppsync.toml:2", "admin.auth_token_file", "cannot read"}},
		{"cert without key", "[admin]\ntls_cert = \"cert.pem\"\n", []string{"ppsync.toml:2", "admin.tls_cert", "both"}},
		{"missing key", "[admin]\ntls_cert = \"cert.pem\"\ntls_key = \"gone.pem\"\n", []string{"ppsync.toml:3", "admin.tls_key", "cannot read"}},
		{"zero upload size", "[admin]\nupload_max_size = 0\n", []string{"ppsync.toml:2", "admin.upload_max_size"}},
		{"misspelt", "[admin]\nuplod = true\n", []string{"ppsync.toml:2", `did you mean "admin.upload"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, dir, tc.text+minimal)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}

	if runtime.GOOS != "windows" {
		if err := os.Chmod(filepath.Join(dir, "token"), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := parse(t, dir, "[admin]\nauth_token_file = \"token\"\n"+minimal)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(c.Warnings, "\n"), "chmod 600") {
			t.Errorf("a world-readable token file gives no warning: %v", c.Warnings)
		}
	}
}

// A cheap bcrypt hash and a password sent in clear over the network are
// warned about at start; public_metrics is read.
func TestAdminPasswordWarnings(t *testing.T) {
	dir := setup(t)
	cheap, _ := bcrypt.GenerateFromPassword([]byte("pw"), 8)
	good, _ := bcrypt.GenerateFromPassword([]byte("pw"), 10)
	for _, name := range []string{"cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, admin string
		warn        string // "" = no warning about the password
	}{
		{"cheap hash", "listen = \"127.0.0.1:9847\"\nauth_password_hash = \"" + string(cheap) + "\"", "bcrypt cost is 8"},
		{"good hash on loopback", "listen = \"127.0.0.1:9847\"\nauth_password_hash = \"" + string(good) + "\"", ""},
		{"plain http off loopback", "listen = \"0.0.0.0:9847\"\nauth_password_hash = \"" + string(good) + "\"", "plain HTTP on 0.0.0.0:9847"},
		{"https off loopback", "listen = \"0.0.0.0:9847\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\nauth_password_hash = \"" + string(good) + "\"", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, dir, "[admin]\npublic_metrics = true\n"+tc.admin+"\n"+minimal)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Admin.PublicMetrics {
				t.Error("public_metrics not read")
			}
			var got string
			for _, w := range c.Warnings {
				if strings.Contains(w, "auth_password_hash") {
					got += w + "\n"
				}
			}
			if tc.warn == "" && got != "" || tc.warn != "" && !strings.Contains(got, tc.warn) {
				t.Fatalf("warnings %q, want %q", got, tc.warn)
			}
		})
	}
}
