package webui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSanitizeName(t *testing.T) {
	pdf := []string{".pdf"}
	tests := []struct {
		in, want string
		exts     []string
		bad      bool
	}{
		{in: "invoice.pdf", want: "invoice.pdf", exts: pdf},
		{in: "../../etc/cron.d/x.pdf", want: "x.pdf", exts: pdf},
		{in: `C:\Users\ann\Scan 01.PDF`, want: "Scan 01.PDF", exts: pdf},
		{in: "a<b>:c|d?.pdf", want: "a_b__c_d_.pdf", exts: pdf},
		{in: "tab\there\x00.pdf", want: "tab_here_.pdf", exts: pdf},
		{in: "...hidden.pdf", exts: pdf, bad: true},
		{in: "dir/.hidden.pdf", exts: pdf, bad: true},
		{in: ".pdf", exts: pdf, bad: true},
		{in: "notes.txt", exts: pdf, bad: true},
		{in: "invoice.pdf.exe", exts: pdf, bad: true},
		{in: "photo.JPG", want: "photo.JPG", exts: []string{".pdf", ".jpg"}},
		{in: strings.Repeat("é", 150) + ".pdf", want: strings.Repeat("é", 98) + ".pdf", exts: pdf},
	}
	for _, tt := range tests {
		got, err := sanitizeName(tt.in, tt.exts)
		if tt.bad {
			if err == nil {
				t.Errorf("sanitizeName(%q) = %q, want refusal", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("sanitizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func upload(t *testing.T, srv, inbox, name string, body []byte, hdr map[string]string) (int, UploadAnswer, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv+"/ui/api/upload?inbox="+inbox+"&name="+url.QueryEscape(name), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans UploadAnswer
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	_ = json.Unmarshal(buf.Bytes(), &ans)
	return resp.StatusCode, ans, buf.String()
}

func TestUpload(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, Options{Upload: Upload{Enabled: true, MaxBytes: 1024}})
	page := []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n")
	ok := map[string]string{RequestHeader: "1"}

	code, ans, body := upload(t, srv.URL, "1", "../Scan: März.pdf", page, ok)
	want := filepath.Join(f.inboxes[1], "Scan_ März.pdf")
	if code != http.StatusCreated || ans.Path != want {
		t.Fatalf("upload: %d %s; want 201 and %s", code, body, want)
	}
	if b, err := os.ReadFile(want); err != nil || !bytes.Equal(b, page) {
		t.Fatalf("saved file: %q, %v", b, err)
	}
	// The same name again never replaces the first file.
	code, ans, _ = upload(t, srv.URL, "1", "Scan: März.pdf", append(page, '\n'), ok)
	if code != http.StatusCreated || filepath.Base(ans.Path) != "Scan_ März (2).pdf" {
		t.Fatalf("second upload: %d %s", code, ans.Path)
	}
	if b, _ := os.ReadFile(want); !bytes.Equal(b, page) {
		t.Fatal("the first upload was overwritten")
	}

	refused := []struct {
		name, inbox, file string
		body              []byte
		hdr               map[string]string
		code              int
	}{
		{"not a pdf", "0", "x.pdf", []byte("MZ\x90\x00 not a pdf at all"), ok, http.StatusUnsupportedMediaType},
		{"wrong type", "0", "x.exe", page, ok, http.StatusUnsupportedMediaType},
		{"too large", "0", "big.pdf", append([]byte("%PDF-"), make([]byte, 2048)...), ok, http.StatusRequestEntityTooLarge},
		{"no such inbox", "7", "x.pdf", page, ok, http.StatusBadRequest},
		{"cross-site", "0", "x.pdf", page, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, body := upload(t, srv.URL, tt.inbox, tt.file, tt.body, tt.hdr); code != tt.code {
				t.Fatalf("%d %s, want %d", code, body, tt.code)
			}
		})
	}
	// Nothing but the two accepted uploads is left in the inboxes: no temp
	// files, no partial files.
	for _, dir := range f.inboxes {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "Scan_ März") {
				t.Errorf("left behind in %s: %s", dir, e.Name())
			}
		}
	}
}

func TestUploadOffByDefault(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, Options{})
	code, _, body := upload(t, srv.URL, "0", "x.pdf", []byte("%PDF-1.4\n%%EOF"), map[string]string{RequestHeader: "1"})
	if code != http.StatusNotFound || !strings.Contains(body, "upload = true") {
		t.Fatalf("%d %s: want 404 naming the setting", code, body)
	}
	if entries, _ := os.ReadDir(f.inboxes[0]); len(entries) != 0 {
		t.Fatalf("files written with uploads off: %v", entries)
	}
}
