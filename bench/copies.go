//go:build !windows

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// copiesScenario drops hard links of one PDF, o.copies of them at each
// size, and reports the wall time and the daemon's CPU time per copy:
// every copy shares one document, charged once, and gets its result. The
// variants: all in one folder; spread over folders of 100; split between
// two inboxes of one parser; and a restart over the inbox that holds them
// all with their results (nothing to do but recognise them). The API's
// limits are lifted (a 10 ms rate window): what is measured is ppsync.
func copiesScenario(o options, bin, work string) error {
	fmt.Println("copies: hard links of one PDF, API limits lifted (10 ms rate window); CPU = the daemon's user+sys (rusage)")
	fmt.Println()
	fmt.Println("| copies | variant | wall | CPU | CPU per copy | results | documents charged |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, n := range o.copies {
		// "restart" runs right after "one folder", on its files.
		for _, v := range []string{"one folder", "folders of 100", "two inboxes"} {
			if err := copiesRun(o, bin, work, n, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func copiesRun(o options, bin, work string, n int, variant string) error {
	dir := filepath.Join(work, fmt.Sprintf("copies-%d-%s", n, strings.ReplaceAll(variant, " ", "-")))
	src := filepath.Join(dir, "src")
	if _, err := files(src, 1, 8, o.seed); err != nil {
		return err
	}
	pdfs, err := filepath.Glob(filepath.Join(src, "*", "*.pdf"))
	if err != nil || len(pdfs) != 1 {
		return fmt.Errorf("copies: generating the PDF in %s: %d found (%v)", src, len(pdfs), err)
	}
	orig := pdfs[0]
	extra := ""
	for i := range n {
		var p string
		switch variant {
		case "folders of 100":
			p = filepath.Join(dir, "inbox", fmt.Sprintf("f%04d", i/100), fmt.Sprintf("copy-%06d.pdf", i))
		case "two inboxes":
			box := "inbox"
			if i%2 == 1 {
				box = "inbox2"
			}
			p = filepath.Join(dir, box, fmt.Sprintf("copy-%06d.pdf", i))
		default:
			p = filepath.Join(dir, "inbox", fmt.Sprintf("copy-%06d.pdf", i))
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Link(orig, p); err != nil {
			return err
		}
	}
	if variant == "two inboxes" {
		extra = "[[inbox]]\npath = \"inbox2\"\nparser_id = \"prs_invoice\"\nsettle = \"500ms\"\n"
	}
	emu, cfg, stop, err := liftedServer(o, dir, extra)
	if err != nil {
		return err
	}
	defer stop()
	report := func(variant string) error {
		fmt.Fprintf(os.Stderr, "copies: %d, %s…\n", n, variant)
		r, err := runOnce(bin, cfg)
		if err != nil {
			return err
		}
		results, err := countResults(dir)
		if err != nil {
			return err
		}
		charged := emu.Stats().DocumentsCreated
		fmt.Printf("| %d | %s | %s | %s | %.2f ms | %d | %d |\n", n, variant, fmtDur(r.wall), fmtDur(r.cpu),
			float64(r.cpu)/float64(time.Millisecond)/float64(n), results, charged)
		if results != n || charged != 1 {
			return fmt.Errorf("copies %d (%s): %d results, %d documents charged; want %d and 1", n, variant, results, charged, n)
		}
		return nil
	}
	if err := report(variant); err != nil {
		return err
	}
	if variant == "one folder" {
		return report("restart")
	}
	return nil
}
