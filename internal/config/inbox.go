package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

func (v *validator) inbox(i int) {
	in := &v.c.Inboxes[i]
	k := func(s string) string { return fmt.Sprintf("inbox[%d].%s", i, s) }
	if in.Path == "" {
		v.fail(k("path"), "required: the folder to watch")
	} else {
		in.Path = v.abs(in.Path)
		st, err := os.Stat(in.Path)
		switch {
		// A missing or unreadable inbox (a share not mounted yet) is a
		// fault of that inbox at run time, reported and retried, not a
		// reason to refuse the whole config.
		case err != nil && errors.Is(err, os.ErrNotExist):
			v.warn(k("path"), "folder %s does not exist (yet): ppsync reports the inbox unhealthy and retries until it appears; create it, mount its share or fix the path", in.Path)
		case err != nil:
			v.warn(k("path"), "cannot read folder %s: %v: ppsync reports the inbox unhealthy and retries; grant the ppsync user access", in.Path, err)
		case !st.IsDir():
			v.fail(k("path"), "%s is a file, not a folder", in.Path)
		}
		if runtime.GOOS == "windows" && isMappedDrive(in.Path) {
			v.warn(k("path"), "%s is on a drive letter; if it is a mapped network drive, a Windows service cannot see it: use a UNC path (\\\\server\\share\\folder)", in.Path)
		}
	}
	if strings.TrimSpace(in.ParserID) == "" {
		v.fail(k("parser_id"), "required: the PerfectParser parser id for this inbox (e.g. \"prs_123\")")
	}
	v.media(i)
	v.maxPages(i)
	v.review(i)
	if in.Exclude == nil {
		in.Exclude = DefaultExclude()
	}
	if in.Ledger != "" && within(in.Ledger, in.Path) && !slices.Contains(in.Exclude, filepath.Base(in.Ledger)) {
		in.Exclude = append(in.Exclude, filepath.Base(in.Ledger)) // never upload the ledger itself
	}
	v.globs(k("include"), in.Include)
	v.globs(k("exclude"), in.Exclude)
	for _, p := range systemExclude {
		if !slices.ContainsFunc(in.Exclude, func(e string) bool { return strings.EqualFold(e, p) }) {
			in.Exclude = append(in.Exclude, p)
		}
	}
	v.duration(k("settle"), &in.Settle, 2*time.Second, time.Second)
	v.duration(k("incomplete_after"), &in.IncompleteAfter, 10*time.Minute, 0)
	v.duration(k("rescan_interval"), &in.RescanInterval, time.Minute, 5*time.Second)
	if in.IncompleteAfter.Duration < in.Settle.Duration {
		v.fail(k("incomplete_after"), "%s is shorter than settle (%s): files would be declared incomplete before they can settle", in.IncompleteAfter, in.Settle)
	}
	if in.Watch == "" {
		in.Watch = WatchAuto
	}
	if !slices.Contains([]string{WatchAuto, WatchEvents, WatchPoll}, in.Watch) {
		v.fail(k("watch"), "%q: use \"auto\", \"events\" or \"poll\" (poll for network shares)", in.Watch)
	}
	if in.After == "" {
		in.After = "keep"
	}
	switch in.After {
	case "keep":
		if in.ProcessedDir != "" || in.FailedDir != "" {
			v.warn(k("after"), "processed_dir and failed_dir are only used with after = \"move\"")
		}
	case "move":
		if in.ProcessedDir == "" {
			in.ProcessedDir = filepath.Join(in.Path, "processed")
		}
		if in.FailedDir == "" {
			in.FailedDir = filepath.Join(in.Path, "failed")
		}
		in.ProcessedDir = v.abs(in.ProcessedDir)
		in.FailedDir = v.abs(in.FailedDir)
	default:
		v.fail(k("after"), "%q: use \"keep\" or \"move\"", in.After)
	}
}

// overlaps refuses layouts that would loop or process a file twice.
func (v *validator) overlaps() {
	c := v.c
	for i, a := range c.Inboxes {
		if a.Path == "" {
			continue
		}
		if within(c.State.Path, a.Path) {
			v.fail("state.path", "%s is inside inbox %s: keep the state on a local disk outside every inbox", c.State.Path, a.Path)
		}
		for _, d := range []struct{ key, dir string }{{"processed_dir", a.ProcessedDir}, {"failed_dir", a.FailedDir}} {
			if d.dir == "" {
				continue
			}
			if d.dir == a.Path {
				v.fail(fmt.Sprintf("inbox[%d].%s", i, d.key), "is the inbox itself: files would be processed again and again")
			} else if a.Recursive && within(d.dir, a.Path) {
				v.fail(fmt.Sprintf("inbox[%d].%s", i, d.key), "%s is inside recursive inbox %s: moved files would be picked up again; put it outside, e.g. %s",
					d.dir, a.Path, a.Path+"-"+strings.TrimSuffix(d.key, "_dir"))
			}
			for j, b := range c.Inboxes {
				if b.Path != "" && (d.dir == b.Path || b.Recursive && within(d.dir, b.Path)) && j != i {
					v.fail(fmt.Sprintf("inbox[%d].%s", i, d.key), "%s is watched as inbox %s: moved files would be processed again", d.dir, b.Path)
				}
			}
		}
		for j := i + 1; j < len(c.Inboxes); j++ {
			b := c.Inboxes[j]
			if b.Path == "" {
				continue
			}
			if a.Path == b.Path || a.Recursive && within(b.Path, a.Path) || b.Recursive && within(a.Path, b.Path) {
				v.fail(fmt.Sprintf("inbox[%d].path", j), "%s overlaps inbox %s: every file must belong to exactly one inbox", b.Path, a.Path)
			}
		}
	}
}

// within reports whether p is inside dir (not equal).
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

var driveRe = regexp.MustCompile(`^[A-Za-z]:\\`)

func isMappedDrive(p string) bool {
	return driveRe.MatchString(p) && !strings.HasPrefix(strings.ToUpper(p), `C:\`)
}
