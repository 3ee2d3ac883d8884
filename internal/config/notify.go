package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Notify is one [[notify]]: a target people are told through (e-mail,
// Teams, Slack, ntfy, a JSON webhook), named by a URL, and what it is told.
type Notify struct {
	// Name labels the target in logs, metrics and `ppsync notify test`.
	Name string `toml:"name"`
	// URL names the target; it may hold a secret (a password, a webhook
	// token), so it can instead come from the environment variable URLEnv
	// (or that line of [api] env_file) or the first line of URLFile.
	URL     string `toml:"url" ppsync:"secret"`
	URLEnv  string `toml:"url_env"`
	URLFile string `toml:"url_file"`
	// Events are what this target is told: failures, inbox, api, credits,
	// restart, digest (default: all, digest only with digest_at).
	Events []string `toml:"events"`
	// InboxDownAfter and APIDownAfter are how long an inbox or the API
	// must stay unreachable before anyone is told.
	InboxDownAfter Duration `toml:"inbox_down_after"`
	APIDownAfter   Duration `toml:"api_down_after"`
	// CreditsBelow warns when the balance drops under it (0: off).
	CreditsBelow int `toml:"credits_below"`
	// RunsOutDaysBelow warns when the forecast says the credits run out
	// within that many days (0: off).
	RunsOutDaysBelow float64 `toml:"runs_out_days_below"`
	// Repeat is how often a problem that lasts is told again.
	Repeat Duration `toml:"repeat"`
	// ResolveAfter is how long a problem must stay gone before "resolved"
	// is sent (a flapping inbox is one problem, not many).
	ResolveAfter Duration `toml:"resolve_after"`
	// GroupWindow gathers the files failing in a burst into one message.
	GroupWindow Duration `toml:"group_window"`
	// QuietHours ("22:00-07:00", local time) holds messages until it ends.
	QuietHours string `toml:"quiet_hours"`
	// DigestAt ("08:00", local time) sends the daily digest.
	DigestAt string `toml:"digest_at"`

	// Parsed QuietHours and DigestAt, in minutes after midnight.
	QuietFrom, QuietTo int  `toml:"-"`
	Quiet              bool `toml:"-"`
	DigestMinute       int  `toml:"-"`
	Digest             bool `toml:"-"`
}

// Notification events.
const (
	EventFailures = "failures"
	EventInbox    = "inbox"
	EventAPI      = "api"
	EventCredits  = "credits"
	EventRestart  = "restart"
	EventDigest   = "digest"
)

// NotifyEvents lists every event a [[notify]] target can be told.
func NotifyEvents() []string {
	return []string{EventFailures, EventInbox, EventAPI, EventCredits, EventRestart, EventDigest}
}

// Wants reports whether the target is told event.
func (n Notify) Wants(event string) bool { return slices.Contains(n.Events, event) }

// notify validates every [[notify]] and fills in the defaults.
func (v *validator) notify() {
	names := map[string]int{}
	for i := range v.c.Notify {
		n := &v.c.Notify[i]
		k := func(s string) string { return fmt.Sprintf("notify[%d].%s", i, s) }
		set := 0
		for _, s := range []string{n.URL, n.URLEnv, n.URLFile} {
			if s != "" {
				set++
			}
		}
		if set != 1 {
			v.fail(k("url"), "set exactly one of url, url_env and url_file (url_env or url_file keep a password or token out of this file)")
		}
		if n.URL != "" {
			if u, err := url.Parse(n.URL); err != nil || u.Scheme == "" {
				v.fail(k("url"), "is not a URL such as \"smtp://user@mail.example.com:587/?from=ppsync@example.com&to=ops@example.com\" (see docs/notifications.md)")
			} else if _, hasPw := u.User.Password(); hasPw || u.RawQuery != "" && strings.Contains(strings.ToLower(u.RawQuery), "token=") {
				v.warn(k("url"), "holds a password or token: move the URL to url_env or url_file (mode 0600)")
			}
		}
		if n.URLFile != "" {
			n.URLFile = v.abs(n.URLFile)
		}
		if n.Name == "" {
			n.Name = fmt.Sprintf("notify%d", i+1)
		}
		if j, dup := names[n.Name]; dup {
			v.fail(k("name"), "%q is also the name of notify[%d]: give each target its own name", n.Name, j)
		}
		names[n.Name] = i
		if n.DigestAt != "" {
			m, err := parseClock(n.DigestAt)
			if err != nil {
				v.fail(k("digest_at"), "%v", err)
			}
			n.DigestMinute, n.Digest = m, err == nil
		}
		if n.QuietHours != "" {
			from, to, ok := strings.Cut(n.QuietHours, "-")
			a, errA := parseClock(strings.TrimSpace(from))
			b, errB := parseClock(strings.TrimSpace(to))
			if !ok || errA != nil || errB != nil || a == b {
				v.fail(k("quiet_hours"), "%q is not a span of local time such as \"22:00-07:00\"", n.QuietHours)
			}
			n.QuietFrom, n.QuietTo, n.Quiet = a, b, ok && errA == nil && errB == nil && a != b
		}
		if n.Events == nil {
			n.Events = []string{EventFailures, EventInbox, EventAPI, EventCredits, EventRestart}
			if n.Digest {
				n.Events = append(n.Events, EventDigest)
			}
		}
		for _, e := range n.Events {
			if !slices.Contains(NotifyEvents(), e) {
				v.fail(k("events"), "%q is not an event: use %s", e, strings.Join(NotifyEvents(), ", "))
			}
		}
		if n.Wants(EventDigest) && !n.Digest {
			v.fail(k("digest_at"), "events lists digest: set digest_at to the local time to send it, such as \"08:00\"")
		}
		if n.CreditsBelow < 0 {
			v.fail(k("credits_below"), "must be 0 (off) or a number of credits")
		}
		if n.RunsOutDaysBelow < 0 {
			v.fail(k("runs_out_days_below"), "must be 0 (off) or a number of days")
		}
		v.duration(k("inbox_down_after"), &n.InboxDownAfter, 10*time.Minute, 0)
		v.duration(k("api_down_after"), &n.APIDownAfter, 10*time.Minute, 0)
		v.duration(k("repeat"), &n.Repeat, time.Hour, 0)
		v.duration(k("resolve_after"), &n.ResolveAfter, 2*time.Minute, 0)
		v.duration(k("group_window"), &n.GroupWindow, time.Minute, 0)
	}
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, errH := strconv.Atoi(h)
	mm, errM := strconv.Atoi(m)
	if !ok || errH != nil || errM != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a local time such as \"08:00\"", s)
	}
	return hh*60 + mm, nil
}

// ResolveNotifyURL returns the URL of [[notify]] i from its source, as
// ResolveAPIKey does for the key. getenv is os.Getenv in production.
func (c *Config) ResolveNotifyURL(i int, getenv func(string) string) (string, error) {
	n := c.Notify[i]
	key := fmt.Sprintf("notify[%d]", i)
	switch {
	case n.URL != "":
		return strings.TrimSpace(n.URL), nil
	case n.URLFile != "":
		b, err := os.ReadFile(n.URLFile)
		if err != nil {
			return "", fmt.Errorf("%s: %s.url_file: cannot read %s: %v (put the target's URL in it, mode 0600)", c.File, key, n.URLFile, errors.Unwrap(err))
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if u := strings.TrimSpace(line); u != "" {
			return u, nil
		}
		return "", fmt.Errorf("%s: %s.url_file: %s is empty: put the target's URL on its first line", c.File, key, n.URLFile)
	default:
		if u := strings.TrimSpace(getenv(n.URLEnv)); u != "" {
			return u, nil
		}
		if c.API.EnvFile != "" {
			if val, found, err := envFromFile(c.API.EnvFile, n.URLEnv); err == nil && found && strings.TrimSpace(val) != "" {
				return strings.TrimSpace(val), nil
			}
		}
		return "", fmt.Errorf("%s: %s.url_env: environment variable %s is not set: export it, or add the line %s=<URL> to the env file beside the config (mode 0600)", c.File, key, n.URLEnv, n.URLEnv)
	}
}
