//go:build !windows

package main

import (
	"bufio"
	"io"
	"strings"
	"sync"
)

// daemonLog follows a child daemon's log as it runs: it keeps the last
// 64 KiB for error messages, shows every line to see (under its lock, so
// what see collects is read with locked), and closes watching when the
// daemon first says it is watching an inbox.
type daemonLog struct {
	mu       sync.Mutex
	last     strings.Builder
	watching chan struct{}
}

func followLog(r io.Reader, see func(line string)) *daemonLog {
	l := &daemonLog{watching: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			l.locked(func() {
				if l.last.Len() > 64<<10 {
					l.last.Reset()
				}
				l.last.WriteString(line + "\n")
				if see != nil {
					see(line)
				}
			})
			if !sent && strings.Contains(line, "watching inbox") {
				close(l.watching)
				sent = true
			}
		}
	}()
	return l
}

// locked runs f under the log's lock.
func (l *daemonLog) locked(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f()
}

// tail is the end of the log so far, for an error message.
func (l *daemonLog) tail() (s string) {
	l.locked(func() { s = tail(l.last.String()) })
	return s
}
