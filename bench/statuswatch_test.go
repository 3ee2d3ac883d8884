package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The watcher asks nothing until the daemon's token is written, then asks
// with it; it counts answers, and failures only once the endpoint has
// answered (before, the daemon is starting).
func TestStatusWatchAsksWithTheTokenAndCounts(t *testing.T) {
	var asked, refuse atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.URL.Path != "/status" || r.Header.Get("Authorization") != "Bearer tok123" || refuse.Load() != 0 {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"inboxes":[]}`))
	}))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "state.db.admin-token")
	w := watchStatus(strings.TrimPrefix(srv.URL, "http://"), tokenFile, 5*time.Millisecond)
	time.Sleep(30 * time.Millisecond) // asks without a token: none is made
	if n := asked.Load(); n != 0 {
		t.Errorf("%d asks before the token was written, want none", n)
	}
	if err := os.WriteFile(tokenFile, []byte("tok123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return asked.Load() >= 3 })
	refuse.Store(1)
	before := asked.Load()
	waitFor(t, func() bool { return asked.Load() >= before+2 })
	w.stop()
	w.mu.Lock()
	answers, failed := len(w.took), w.failed
	w.mu.Unlock()
	if answers < 3 || failed < 2 {
		t.Errorf("%d answers and %d failures counted, want at least 3 and 2", answers, failed)
	}
	sum := w.summary()
	for _, want := range []string{"answers", "p50", "failed", "401"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q: want %q in it", sum, want)
		}
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not within 10 s")
		}
	}
}
