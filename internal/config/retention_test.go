package config_test

import (
	"strings"
	"testing"
	"time"
)

func TestStateRetention(t *testing.T) {
	dir := setup(t)
	for _, tc := range []struct {
		name, text string
		want       time.Duration
		warn       string
		err        []string
	}{
		{name: "default", text: minimal, want: 180 * 24 * time.Hour},
		{name: "days", text: "[state]\nretention = \"90d\"\n" + minimal, want: 90 * 24 * time.Hour},
		{name: "hours", text: "[state]\nretention = \"720h\"\n" + minimal, want: 720 * time.Hour},
		{name: "for ever", text: "[state]\nretention = \"0s\"\n" + minimal, want: 0},
		{name: "very short", text: "[state]\nretention = \"1h\"\n" + minimal, want: time.Hour, warn: "state.retention"},
		{name: "negative", text: "[state]\nretention = \"-1h\"\n" + minimal, err: []string{"ppsync.toml:2", "state.retention", "180d"}},
		{name: "not a duration", text: "[state]\nretention = \"half a year\"\n" + minimal, err: []string{"ppsync.toml:2", "not a duration", "180d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, dir, tc.text)
			if len(tc.err) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.State.Retention.Duration != tc.want {
				t.Errorf("retention = %v, want %v", c.State.Retention.Duration, tc.want)
			}
			joined := strings.Join(c.Warnings, "\n")
			if tc.warn != "" && !strings.Contains(joined, tc.warn) {
				t.Errorf("no warning for %s in %q", tc.warn, joined)
			}
			if tc.warn == "" && joined != "" {
				t.Errorf("unexpected warnings %q", joined)
			}
		})
	}
}
