package config_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/config"
)

// Every key the config reads is documented in config.example.toml and has
// a default or a note (the man page's reference is made from them).
func TestEveryKeyIsDocumented(t *testing.T) {
	example, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	defaults := config.KeyDefaults()
	noDefault := map[string]bool{"api.api_key_file": true, "api.api_key": true, "admin.hosts": true,
		"admin.auth_password_hash": true, "admin.auth_token_file": true, "admin.tls_cert": true, "admin.tls_key": true,
		"webhook.secret": true, "webhook.tls_cert": true, "webhook.tls_key": true, "inbox.results_dir": true,
		"inbox.ledger": true, "notify.quiet_hours": true, "notify.digest_at": true}
	keys := config.Keys()
	if len(keys) < 70 {
		t.Fatalf("only %d keys", len(keys))
	}
	for _, k := range keys {
		leaf := k.Name[strings.LastIndex(k.Name, ".")+1:]
		pat := `(?m)(^|[#\s])` + regexp.QuoteMeta(leaf) + `\s*=`
		if k.Table {
			pat = `(?m)^#?\s*\[\[` + regexp.QuoteMeta(k.Name) + `\]\]`
		}
		if !regexp.MustCompile(pat).Match(example) {
			t.Errorf("config.example.toml does not show %s", k.Name)
		}
		if k.Table {
			continue
		}
		d, ok := defaults[k.Name]
		if !ok || d == "" && !noDefault[k.Name] {
			t.Errorf("%s has no default (%q, %v)", k.Name, d, ok)
		}
	}
	for k, want := range map[string]string{"inbox.settle": `"2s"`, "state.retention": `"180d"`, "upload.max_batch_bytes": `"256MiB"`,
		"inbox.max_pages": "2000", "log.level": `"info"`, "inbox.recursive": "false", "admin.listen": "derived from [state] path"} {
		if !strings.Contains(defaults[k], want) {
			t.Errorf("default of %s = %q, want %s", k, defaults[k], want)
		}
	}
	for _, k := range keys {
		if k.Secret != (k.Name == "api.api_key" || k.Name == "admin.auth_password_hash" || k.Name == "webhook.secret" || k.Name == "notify.url") {
			t.Errorf("%s: secret = %v", k.Name, k.Secret)
		}
	}
}
