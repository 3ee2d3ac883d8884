package webui

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
)

// slowBody sends n chunks of body with a pause before each.
type slowBody struct {
	chunks [][]byte
	pause  time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := copy(p, s.chunks[0])
	s.chunks[0] = s.chunks[0][n:]
	if len(s.chunks[0]) == 0 {
		s.chunks = s.chunks[1:]
	}
	return n, nil
}

func split(b []byte, n int) [][]byte {
	var out [][]byte
	size := (len(b) + n - 1) / n
	for len(b) > 0 {
		k := min(size, len(b))
		out = append(out, b[:k])
		b = b[k:]
	}
	return out
}

// pagedServer serves the page like the admin endpoint does: with a short
// fixed read timeout standing in for its 10 s.
func pagedServer(t *testing.T, f *fixture, up Upload, readTimeout time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(Protect(New(Options{Reader: f.reader, Live: f.live, Upload: up}), Security{Listen: "127.0.0.1:0", NoAuth: true}))
	srv.Config.ReadTimeout = readTimeout
	srv.Config.WriteTimeout = readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func slowUpload(t *testing.T, srv, name string, body *slowBody, size int) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv+"/ui/api/upload?inbox=0&name="+url.QueryEscape(name), body)
	req.ContentLength = int64(size)
	req.Header.Set(RequestHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An upload that takes longer than the server's read timeout, but keeps
// sending, arrives whole; one that stalls is cut.
func TestSlowUploadArrives(t *testing.T) {
	f := newFixture(t)
	page := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("0123456789abcdef\n"), 4096)...)
	page = append(page, "%%EOF\n"...)
	srv := pagedServer(t, f, Upload{Enabled: true, Stall: 400 * time.Millisecond}, 300*time.Millisecond)

	// 12 chunks 100 ms apart: 1.2 s in all, four times the read timeout.
	code, body := slowUpload(t, srv.URL, "scan.pdf", &slowBody{chunks: split(page, 12), pause: 100 * time.Millisecond}, len(page))
	if code != http.StatusCreated {
		t.Fatalf("slow upload: %d %s", code, body)
	}
	if b, err := os.ReadFile(filepath.Join(f.inboxes[0], "scan.pdf")); err != nil || !bytes.Equal(b, page) {
		t.Fatalf("saved %d bytes (%v), want %d", len(b), err, len(page))
	}

	// A pause longer than Stall: cut, nothing left in the inbox.
	code, body = slowUpload(t, srv.URL, "stalled.pdf", &slowBody{chunks: split(page, 3), pause: 1500 * time.Millisecond}, len(page))
	if code != http.StatusRequestTimeout || !strings.Contains(body, "stalled") {
		t.Fatalf("a stalled upload: %d %s; want 408 saying it stalled", code, body)
	}
	entries, _ := os.ReadDir(f.inboxes[0])
	for _, e := range entries {
		if e.Name() != "scan.pdf" {
			t.Errorf("left in the inbox: %s", e.Name())
		}
	}
}

// Names the inbox would ignore are refused with a message saying so.
func TestUploadRefusesNamesTheInboxIgnores(t *testing.T) {
	f := newFixture(t)
	custom := config.Inbox{Path: f.inboxes[1], Include: []string{"*.pdf"}, Exclude: []string{"draft-*"}}
	srv := f.server(t, Options{Upload: Upload{Enabled: true, Inboxes: []config.Inbox{custom}}})
	page := []byte("%PDF-1.7\n%%EOF\n")
	ok := map[string]string{RequestHeader: "1"}
	for _, tc := range []struct {
		inbox, name string
		code        int
		say         string
	}{
		{"0", "~$invoice.pdf", http.StatusUnprocessableEntity, "would ignore"},
		{"0", ".invoice.pdf", http.StatusUnsupportedMediaType, "hidden"},
		{"0", "~invoice.tmp", http.StatusUnsupportedMediaType, "only .pdf"},
		{"0", "invoice.pdf.part", http.StatusUnsupportedMediaType, "only .pdf"},
		{"1", "draft-7.pdf", http.StatusUnprocessableEntity, "would ignore"},
		{"0", "draft-7.pdf", http.StatusCreated, ""}, // default filters: fine
		{"1", "invoice.pdf", http.StatusCreated, ""}, // custom filters: fine
	} {
		code, _, body := upload(t, srv.URL, tc.inbox, tc.name, page, ok)
		if code != tc.code || !strings.Contains(body, tc.say) {
			t.Errorf("%s into inbox %s: %d %s; want %d saying %q", tc.name, tc.inbox, code, body, tc.code, tc.say)
		}
	}
	for i, dir := range f.inboxes {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != "draft-7.pdf" && e.Name() != "invoice.pdf" {
				t.Errorf("inbox %d holds %s", i, e.Name())
			}
		}
	}
}
