package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/results"
)

// A finished file is processed again only on purpose: the cost is said
// first, nothing happens without confirmation, and the new submission is a
// new job (charged), not the API's answer for the old one. It holds for a
// file first sent alone too: there the batch is the same one file, so only
// the key's generation can tell the resend from the first submission.
func TestRetryReprocessFinishedFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
	}{
		{"sent alone", map[string][]byte{"invoice.pdf": invoice(t, 1)}},
		{"sent with another", map[string][]byte{"invoice.pdf": invoice(t, 1), "other.pdf": invoice(t, 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) { testReprocess(t, tc.files) })
	}
}

func testReprocess(t *testing.T, files map[string][]byte) {
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	cfg, emu := setup(t, files)
	if code, out, errOut := run(t, env, "run", "-c", cfg, "--once"); code != 0 {
		t.Fatalf("first run: %d\n%s\n%s", code, out, errOut)
	}
	inbox := filepath.Join(filepath.Dir(cfg), "inbox")
	file := filepath.Join(inbox, "invoice.pdf")
	first, err := os.ReadFile(results.ResultPath(file))
	if err != nil {
		t.Fatal(err)
	}
	before := emu.Stats()

	// Not a terminal and no --yes: nothing is marked, and it says why.
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader("y\n"), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	if code := m.Run(t.Context(), []string{"retry", "--reprocess", file, "-c", cfg}); code != 1 ||
		!strings.Contains(out.String(), "Processing 1 file again costs 1 credit") || !strings.Contains(errb.String(), "--yes") {
		t.Fatalf("without --yes off a terminal: %d\n%s\n%s", code, out.String(), errb.String())
	}
	if code, out, errOut := run(t, env, "run", "-c", cfg, "--once"); code != 0 || emu.Stats().DocumentsCreated != before.DocumentsCreated {
		t.Fatalf("a refused reprocess still sent something: %d\n%s\n%s", code, out, errOut)
	}

	tests := []struct {
		name  string
		args  []string
		code  int
		want  string
		stder string
	}{
		{"with --failed", []string{"retry", "--reprocess", "--failed", file}, 2, "", "do not go together"},
		{"no paths", []string{"retry", "--reprocess"}, 2, "", "name the files"},
		{"untracked", []string{"retry", "--reprocess", "--yes", filepath.Join(inbox, "never-seen.pdf")}, 1, "", "not tracked"},
		{"done file", []string{"retry", "--reprocess", "--yes", file}, 0, "Processing 1 file again costs 1 credit", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, env, append(tt.args, "-c", cfg)...)
			if code != tt.code || !strings.Contains(out, tt.want) || !strings.Contains(errOut, tt.stder) {
				t.Fatalf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", tt.args, code, tt.code, out, errOut)
			}
		})
	}

	if code, out, errOut := run(t, env, "run", "-c", cfg, "--once"); code != 0 {
		t.Fatalf("run after reprocess: %d\n%s\n%s", code, out, errOut)
	}
	after := emu.Stats()
	if after.DocumentsCreated != before.DocumentsCreated+1 || after.PagesCharged != before.PagesCharged+1 {
		t.Errorf("documents %d→%d, pages %d→%d: want exactly one new document of one page (a new job, not the cached one)",
			before.DocumentsCreated, after.DocumentsCreated, before.PagesCharged, after.PagesCharged)
	}
	if after.IdempotentReplays != before.IdempotentReplays {
		t.Errorf("the API answered from its idempotency cache (%d → %d replays): the reprocess reused the old key", before.IdempotentReplays, after.IdempotentReplays)
	}
	second, err := os.ReadFile(results.ResultPath(file))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, second) {
		t.Error("the result file was not written again")
	}
}
