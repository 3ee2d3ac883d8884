package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

// Names with a newline and a control character, dropped with innocent
// files: whether the API refuses such a name or echoes it mangled, every
// file gets its result under its real name, every file is charged once,
// and `ppsync retry` of an odd-named file charges nothing more.
func TestOddNamesAmongInnocentFiles(t *testing.T) {
	for _, quirks := range [][]emulator.Quirk{nil, {emulator.QuirkMangleNames}} {
		t.Run(fmt.Sprint(quirks), func(t *testing.T) {
			e := newEnv(t, emulator.Options{Quirks: quirks})
			listen := "127.0.0.1:" + port(t)
			cfg := e.webConfig(listen, "", "inbox")
			var files, odd []string
			for i := range 4 {
				files = append(files, filepath.Join(e.inbox, fmt.Sprintf("innocent-%d.pdf", i)))
			}
			odd = []string{filepath.Join(e.inbox, "line\nbreak.pdf"), filepath.Join(e.inbox, "ctrl\x01char.pdf"),
				filepath.Join(e.inbox, "tab\tand März.pdf")}
			files = append(files, odd...)
			// Written before the start: the files go in one batch.
			for i, p := range files {
				write(t, p, pdf(t, i+1, 1))
			}
			stop := e.start(cfg)
			defer stop()
			e.waitFor("every file's result", 20*time.Second, func() bool { return allResults(files) })
			for i, p := range files {
				if exists(results.ErrorPath(p)) {
					t.Errorf("%q has an error file", p)
				}
				r := readResult(t, p)
				if r.Source.Path != p {
					t.Errorf("result of %q names the source %q", p, r.Source.Path)
				}
				if got, want := invoiceNumber(t, r), fmt.Sprintf("INV-2026-%05d", i+1); got != want {
					t.Errorf("%q: invoice %s, want %s (another file's result)", p, got, want)
				}
				var d struct {
					Filename string `json:"filename"`
				}
				_ = json.Unmarshal(r.Document, &d)
				if slices.Contains(odd, p) && strings.ContainsFunc(d.Filename, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
					t.Errorf("%q was uploaded as %q", p, d.Filename)
				}
			}
			st := e.emu.Stats()
			if st.DocumentsCreated != len(files) || st.PagesCharged != len(files) {
				t.Errorf("documents_created=%d pages_charged=%d, want %d each", st.DocumentsCreated, st.PagesCharged, len(files))
			}

			// ppsync retry of the odd-named files: nothing is sent again.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ans, err := admin.NewClient(cfg).Retry(ctx, control.RetryRequest{Paths: odd})
			if err != nil {
				t.Fatal(err)
			}
			if len(ans.Retried) != 0 {
				t.Errorf("retry sent %q through again", ans.Retried)
			}
			// A file dropped after the retry gets its result: whatever the
			// retry set going has gone too.
			last := filepath.Join(e.inbox, "after-retry.pdf")
			write(t, last, pdf(t, 99, 1))
			e.waitFor("the file dropped after the retry", 20*time.Second, func() bool { return exists(results.ResultPath(last)) })
			if st := e.emu.Stats(); st.DocumentsCreated != len(files)+1 || st.PagesCharged != len(files)+1 {
				t.Errorf("after the retry: documents_created=%d pages_charged=%d, want %d each", st.DocumentsCreated, st.PagesCharged, len(files)+1)
			}
		})
	}
}
