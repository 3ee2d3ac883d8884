package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
)

func TestNotifyDefaultsAndClock(t *testing.T) {
	dir := setup(t)
	c, err := parse(t, dir, minimal+`
[[notify]]
url_env = "OPS_SLACK"
[[notify]]
name = "mail"
url_file = "mail.url"
events = ["failures", "digest"]
digest_at = "07:30"
quiet_hours = "22:00-06:15"
credits_below = 500
runs_out_days_below = 5
`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Notify[0], c.Notify[1]
	for _, ck := range []struct {
		name      string
		got, want any
	}{
		{"name", a.Name, "notify1"},
		{"events", strings.Join(a.Events, ","), "failures,inbox,api,credits,restart"},
		{"inbox_down_after", a.InboxDownAfter.Duration, 10 * time.Minute},
		{"api_down_after", a.APIDownAfter.Duration, 10 * time.Minute},
		{"repeat", a.Repeat.Duration, time.Hour},
		{"resolve_after", a.ResolveAfter.Duration, 2 * time.Minute},
		{"group_window", a.GroupWindow.Duration, time.Minute},
		{"no digest", a.Digest, false},
		{"url_file", b.URLFile, filepath.Join(dir, "mail.url")},
		{"digest", b.DigestMinute, 7*60 + 30},
		{"quiet", [3]any{b.Quiet, b.QuietFrom, b.QuietTo}, [3]any{true, 22 * 60, 6*60 + 15}},
		{"wants digest", b.Wants(config.EventDigest), true},
		{"wants no inbox", b.Wants(config.EventInbox), false},
	} {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestNotifyErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{`url = "slack://x"` + "\n" + `url_env = "X"`, "notify[0].url: set exactly one of url, url_env and url_file"},
		{``, "notify[0].url: set exactly one of url, url_env and url_file"},
		{`url_env = "X"` + "\n" + `events = ["fail"]`, `notify[0].events: "fail" is not an event: use failures, inbox, api, credits, restart, digest`},
		{`url_env = "X"` + "\n" + `events = ["digest"]`, "notify[0].digest_at: events lists digest: set digest_at"},
		{`url_env = "X"` + "\n" + `digest_at = "8am"`, `notify[0].digest_at: "8am" is not a local time such as "08:00"`},
		{`url_env = "X"` + "\n" + `quiet_hours = "22:00"`, `notify[0].quiet_hours: "22:00" is not a span of local time`},
		{`url_env = "X"` + "\n" + `credits_below = -1`, "notify[0].credits_below: must be 0 (off) or a number of credits"},
		{`url_env = "X"` + "\n" + `repeat = "0s"`, "notify[0].repeat: must be a positive duration"},
	} {
		_, err := parse(t, setup(t), minimal+"\n[[notify]]\n"+tc.text+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
	_, err := parse(t, setup(t), minimal+"\n[[notify]]\nname = \"a\"\nurl_env = \"X\"\n[[notify]]\nname = \"a\"\nurl_env = \"Y\"\n")
	if err == nil || !strings.Contains(err.Error(), `notify[1].name: "a" is also the name of notify[0]`) {
		t.Errorf("duplicate names: %v", err)
	}
}

func TestNotifyURLInTheFileIsWarnedAbout(t *testing.T) {
	c, err := parse(t, setup(t), minimal+"\n[[notify]]\nurl = \"smtp://u:pw@mail.example.com/?from=a@b.c&to=d@e.f\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings, "\n"); !strings.Contains(w, "notify[0].url: holds a password or token: move the URL to url_env or url_file") {
		t.Errorf("warnings: %q", w)
	}
}

func TestResolveNotifyURL(t *testing.T) {
	dir := setup(t)
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte("PP_API_KEY=k\nTEAMS_URL=\"teams://from-env-file/x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slack.url"), []byte("slack://hooks.slack.com/services/A/B/C\n# comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.url"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse(t, dir, minimal+`
[[notify]]
url_file = "slack.url"
[[notify]]
url_env = "NTFY_URL"
[[notify]]
url_env = "TEAMS_URL"
[[notify]]
url_env = "MISSING"
[[notify]]
url_file = "empty.url"
`)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NTFY_URL": " ntfy://ntfy.sh/t "}
	getenv := func(k string) string { return env[k] }
	for i, want := range []string{"slack://hooks.slack.com/services/A/B/C", "ntfy://ntfy.sh/t", "teams://from-env-file/x"} {
		if got, err := c.ResolveNotifyURL(i, getenv); err != nil || got != want {
			t.Errorf("notify[%d]: %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := c.ResolveNotifyURL(3, getenv); err == nil || !strings.Contains(err.Error(), "notify[3].url_env: environment variable MISSING is not set") {
		t.Errorf("missing variable: %v", err)
	}
	if _, err := c.ResolveNotifyURL(4, getenv); err == nil || !strings.Contains(err.Error(), "empty.url is empty") {
		t.Errorf("empty file: %v", err)
	}
}
