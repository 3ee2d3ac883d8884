package api_test

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ppsync/ppsync/internal/api"
)

// Each file part carries the upload's ContentType (the recognised format),
// or, when none is given, the type its name's extension says.
func TestSubmitPartContentTypes(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			t.Errorf("request content type: %v", err)
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for p, err := mr.NextPart(); err == nil; p, err = mr.NextPart() {
			if p.FileName() != "" {
				mu.Lock()
				got[p.FileName()] = p.Header.Get("Content-Type")
				mu.Unlock()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"extraction":{"extraction_id":"ext_1","status":"processing","documents":[]}}`)
	}))
	defer srv.Close()
	c, err := api.New(api.Options{BaseURL: srv.URL, APIKey: "pp_test_key_0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	file := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	uploads := []api.Upload{
		{Name: "scan.pdf", Open: file("%PDF-")},
		{Name: "photo.JPG", Open: file("\xff\xd8")},
		{Name: "receipt-without-extension", ContentType: "image/webp", Open: file("RIFF")},
		{Name: "screenshot.png", ContentType: "image/png", Open: file("\x89PNG")},
	}
	if _, err := c.Submit(context.Background(), "prs_x", "key-1", uploads); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"scan.pdf": "application/pdf", "photo.JPG": "image/jpeg", "receipt-without-extension": "image/webp", "screenshot.png": "image/png"}
	for name, ct := range want {
		if got[name] != ct {
			t.Errorf("%s sent as %q, want %q", name, got[name], ct)
		}
	}
}
