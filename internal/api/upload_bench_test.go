package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ppsync/ppsync/internal/api"
)

// BenchmarkUploadMemory streams files of growing size through Submit and
// reports the bytes allocated per upload: flat in file size means the
// multipart body is piped from disk, never buffered.
func BenchmarkUploadMemory(b *testing.B) {
	for _, size := range []int64{1 << 20, 20 << 20, 200 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "big.pdf")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Truncate(size); err != nil {
				b.Fatal(err)
			}
			f.Close()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, _ := io.Copy(io.Discard, r.Body)
				if n < size {
					w.WriteHeader(400)
					return
				}
				w.WriteHeader(202)
				_, _ = io.WriteString(w, `{"extraction":{"extraction_id":"ext_1","status":"queued"}}`)
			}))
			defer srv.Close()
			c, err := api.New(api.Options{BaseURL: srv.URL, APIKey: testKey, SubmissionsPerWindow: 1 << 20, RequestsPerWindow: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			up := api.Upload{Name: "big.pdf", Open: func() (io.ReadCloser, error) { return os.Open(path) }}
			b.SetBytes(size)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if _, err := c.Submit(context.Background(), "prs_invoice", "k", []api.Upload{up}); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB-alloc/upload")
		})
	}
}
