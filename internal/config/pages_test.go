package config_test

import (
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/config"
)

func TestMaxPages(t *testing.T) {
	dir := setup(t)
	two := minimal + "max_pages = 50\n" + "[[inbox]]\npath = \"receipts\"\nparser_id = \"prs_receipt\"\n"
	for _, tc := range []struct {
		name string
		text string
		want []int
	}{
		{"default", minimal, []int{config.DefaultMaxPages}},
		{"set", minimal + "max_pages = 10\n", []int{10}},
		{"per inbox", two, []int{50, config.DefaultMaxPages}},
		{"large", minimal + "max_pages = 250000\n", []int{250000}},
	} {
		c, err := parse(t, dir, tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i, w := range tc.want {
			if got := c.Inboxes[i].MaxPages; got != w {
				t.Errorf("%s: inbox[%d].max_pages = %d, want %d", tc.name, i, got, w)
			}
		}
	}
}

func TestMaxPagesErrors(t *testing.T) {
	dir := setup(t)
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"zero", minimal + "max_pages = 0\n", []string{"ppsync.toml:5", "inbox[0].max_pages", "at least 1", "TOO_MANY_PAGES"}},
		{"negative", minimal + "max_pages = -3\n", []string{"ppsync.toml:5", "inbox[0].max_pages", "at least 1"}},
		{"second inbox", minimal + "[[inbox]]\npath = \"receipts\"\nparser_id = \"p\"\nmax_pages = 0\n", []string{"ppsync.toml:8", "inbox[1].max_pages"}},
		{"not a number", minimal + "max_pages = \"many\"\n", []string{"ppsync.toml", "max_pages"}},
		{"misspelt", minimal + "max_page = 10\n", []string{"ppsync.toml:5", `did you mean "inbox.max_pages"`}},
	} {
		_, err := parse(t, dir, tc.text)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}
