package smbtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/smbtest"
	"github.com/ppsync/ppsync/internal/watcher"
)

// An inbox on a share whose server is down is reported as an I/O error on
// the inbox, named once, that ppsync retries: not as a missing read
// permission.
func TestInboxOnAShareDownIsAnIOError(t *testing.T) {
	s := smbtest.Start(t)
	s.WriteDirect("a.pdf", []byte("%PDF-1.4\n%%EOF\n"))
	in := watcher.Inbox{Path: s.Mount, Include: []string{"*.pdf"}, Exclude: config.DefaultExclude(),
		Settle: time.Second, IncompleteAfter: time.Minute, RescanInterval: time.Hour, Watch: watcher.WatchPoll}
	w := watcher.New(watcher.Options{Inbox: in})
	if err := w.Reachable(); err != nil {
		t.Fatalf("inbox on a running share: %v", err)
	}
	s.StopServer()
	err := w.Reachable()
	if err == nil {
		t.Fatal("an inbox on a share whose server is down is reported reachable")
	}
	msg := err.Error()
	if !strings.Contains(msg, "I/O error reading "+s.Mount+" (the share or disk may be unreachable)") || !strings.Contains(msg, "ppsync retries") {
		t.Errorf("message %q does not say it is an I/O error on the share, retried", msg)
	}
	if strings.Contains(msg, "grant") {
		t.Errorf("message %q asks for an access right for an I/O error", msg)
	}
	if n := strings.Count(msg, s.Mount); n != 1 {
		t.Errorf("message %q names the inbox %d times, want once", msg, n)
	}
}
