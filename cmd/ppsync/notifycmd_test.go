package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// 'ppsync notify test' sends to every target and says, per target, what
// happened: exit 0 when all took it, 1 when one did not.
func TestNotifyTestSaysWhatHappenedPerTarget(t *testing.T) {
	got := make(chan map[string]any, 4)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		got <- m
	}))
	defer ok.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid_token", http.StatusForbidden)
	}))
	defer refusing.Close()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(tables string) string {
		p := filepath.Join(dir, "ppsync.toml")
		text := "[api]\napi_key = \"k\"\n[[inbox]]\npath = \"in\"\nparser_id = \"prs_invoice\"\n" + tables
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := fmt.Sprintf("[[notify]]\nname = \"ops-hook\"\nurl = \"webhook+http://%s/h\"\n", ok.Listener.Addr())
	env := map[string]string{"SLACK_URL": "slack+http://" + refusing.Listener.Addr().String() + "/services/T1/B1/VerySecretToken"}

	code, out, errOut := run(t, env, "notify", "test", "-c", write(good))
	if code != 0 || !strings.Contains(out, "ops-hook") || !strings.Contains(out, "sent") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if m := <-got; m["event"] != "test" || !strings.Contains(fmt.Sprint(m["text"]), `target "ops-hook"`) {
		t.Errorf("test message: %v", m)
	}

	code, out, errOut = run(t, env, "notify", "test", "-c", write(good+"[[notify]]\nname = \"team-slack\"\nurl_env = \"SLACK_URL\"\n"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "ops-hook") || !strings.Contains(out, "team-slack") || !strings.Contains(out, "FAILED") ||
		!strings.Contains(out, "403 Forbidden: invalid_token") || !strings.Contains(errOut, "1 of 2 notification targets did not accept the test message") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if strings.Contains(out+errOut, "VerySecretToken") {
		t.Errorf("the Slack token is shown:\n%s%s", out, errOut)
	}

	if code, _, errOut := run(t, env, "help", "notify"); code != 0 || !strings.Contains(errOut, "Usage: ppsync notify test -c FILE") {
		t.Errorf("help notify: exit %d, %s", code, errOut)
	}

	code, _, errOut = run(t, env, "notify", "test", "-c", write(""))
	if code != 2 || !strings.Contains(errOut, "has no [[notify]] target") {
		t.Errorf("no targets: exit %d, %s", code, errOut)
	}
}
