package config_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/config"
)

// goTypeName matches what Go's reflection calls types: a config error
// must speak TOML, never Go.
var goTypeName = regexp.MustCompile(`map\[string\]interface|interface \{\}|\[\]config\.|config\.[A-Z]|\[\]interface|\bint64\b|\bfloat64\b|\breflect\b`)

// One pass reports every problem of the file, each with its line, sorted
// by line: unknown keys (with "did you mean"), wrong types, invalid values
// and missing settings together.
func TestEveryConfigErrorAtOnce(t *testing.T) {
	dir := setup(t)
	text := `[api]
rate_windw = "1m"
requests_per_window = "many"
base_url = "ftp://example.com"

[upload]
max_batch_files = 80
batch_window = 2

[log]
level = "loud"
format = true

[[inbox]]
path = "scans"
settle = "soon"
max_pages = "lots"
recursive = "yes"
`
	_, err := parse(t, dir, text)
	if err == nil {
		t.Fatal("accepted")
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, not config.Errors: %v", err, err)
	}
	want := []struct {
		line int
		key  string
		text string
	}{
		{2, "api.rate_windw", `did you mean "api.rate_window"`},
		{3, "api.requests_per_window", "whole number"},
		{4, "api.base_url", "not an http(s) URL"},
		{7, "upload.max_batch_files", "1 to 50"},
		{8, "upload.batch_window", `"30s"`},
		{11, "log.level", "debug, info"},
		{12, "log.format", "a string"},
		{14, "inbox[0].parser_id", "required"},
		{16, "inbox[0].settle", "not a duration"},
		{17, "inbox[0].max_pages", "whole number"},
		{18, "inbox[0].recursive", "true or false"},
	}
	if len(es) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(es), len(want), err)
	}
	for i, w := range want {
		if i >= len(es) {
			break
		}
		e := es[i]
		if e.Line != w.line || e.Key != w.key || !strings.Contains(e.Msg, w.text) {
			t.Errorf("error %d = %v, want line %d, key %s, %q", i, e, w.line, w.key, w.text)
		}
		if !strings.Contains(e.Error(), "ppsync.toml:") {
			t.Errorf("error %d lacks file:line: %v", i, e)
		}
	}
}

// [inbox] for [[inbox]] (and [notify] for [[notify]]) gets a plain
// sentence, and no error of any kind names a Go type.
func TestConfigErrorsSpeakTOMLNotGo(t *testing.T) {
	dir := setup(t)
	for _, tc := range []struct {
		name, text string
		want       string
	}{
		{"inbox table", "[inbox]\npath = \"scans\"\nparser_id = \"p\"\n",
			"`[inbox]` must be written `[[inbox]]`: ppsync can watch several inboxes, each one is a `[[inbox]]` table"},
		{"notify table", "[notify]\nurl = \"ntfy://x\"\n" + minimal, "`[notify]` must be written `[[notify]]`"},
		{"api list", "[[api]]\nbase_url = \"https://x\"\n" + minimal, "`[[api]]` must be written `[api]`"},
		{"inbox string", "inbox = \"scans\"\n", "must be written as `[[inbox]]` tables"},
		{"list for string", "[log]\nlevel = [\"info\"]\n" + minimal, "must be a string, not a list"},
		{"string for list", minimal + "include = \"*.pdf\"\n", "must be a list"},
		{"number in list", minimal + "include = [1]\n", "must be a string, not a number (1)"},
		{"table for value", "[log.level]\nx = 1\n" + minimal, "log.level: must be a string, not a table"},
		{"value for table", "api = 3\n" + minimal, "must be a table"},
		{"date for duration", "[poll]\ninterval = 2026-01-01\n" + minimal, "poll.interval"},
		{"float for int", "[upload]\nmax_batch_files = 1.5\n" + minimal, "whole number, not a number (1.5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, dir, tc.text)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if m := goTypeName.FindString(err.Error()); m != "" {
				t.Errorf("error names a Go type (%q): %v", m, err)
			}
			if tc.name == "inbox table" && strings.Contains(err.Error(), "no [[inbox]]") {
				t.Errorf("a misspelt [[inbox]] is also reported missing: %v", err)
			}
		})
	}
}
