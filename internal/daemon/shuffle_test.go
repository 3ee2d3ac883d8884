package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/results"
)

// shuffleTransport reorders the documents arrays of every JSON answer (the
// docs never promise upload order): each array is rotated by one, so no
// document stays at its upload position.
type shuffleTransport struct{}

func (shuffleTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil {
		rotateDocuments(v)
		if nb, err := json.Marshal(v); err == nil {
			b = nb
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func rotateDocuments(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if arr, ok := c.([]any); ok && k == "documents" && len(arr) > 1 {
				x[k] = append(arr[1:len(arr):len(arr)], arr[0])
			}
			rotateDocuments(x[k])
		}
	case []any:
		for _, c := range x {
			rotateDocuments(c)
		}
	}
}

func pageCount(t *testing.T, r results.Result) int {
	t.Helper()
	var d struct {
		PageCount int `json:"page_count"`
	}
	if err := json.Unmarshal(r.Document, &d); err != nil {
		t.Fatal(err)
	}
	return d.PageCount
}

// Under an API that answers documents in another order than they were
// uploaded, every file still gets its own result: its own invoice number
// and its own page count.
func TestShuffledAnswersEachFileGetsItsOwnResult(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	want := map[string][2]int{} // path -> invoice n, pages
	for n := 1; n <= 6; n++ {
		p := filepath.Join(e.inbox, fmt.Sprintf("inv-%d.pdf", n))
		write(t, p, pdf(t, n, n))
		want[p] = [2]int{n, n}
	}
	o := e.options(cfg, true)
	o.Transport = shuffleTransport{}
	sum, err := runWith(t, o)
	if err != nil {
		t.Fatal(err)
	}
	for p, w := range want {
		r := readResult(t, p)
		if got, exp := invoiceNumber(t, r), fmt.Sprintf("INV-2026-%05d", w[0]); got != exp {
			t.Errorf("%s: invoice %q, want %q", filepath.Base(p), got, exp)
		}
		if got := pageCount(t, r); got != w[1] {
			t.Errorf("%s: page_count %d, want %d", filepath.Base(p), got, w[1])
		}
	}
	if st := e.emu.Stats(); st.DocumentsCreated != len(want) {
		t.Errorf("documents_created=%d, want %d", st.DocumentsCreated, len(want))
	}
	if sum.Done != len(want) || !sum.OK() {
		t.Errorf("summary = %+v\n%s", sum, tail(e.logs.String(), 3000))
	}
}

// Two files named scan.pdf in different folders of one recursive inbox,
// dropped together, never share a batch under one name, and each gets its
// own result even when answers are reordered.
func TestSameNameInTwoFoldersEachGetsItsOwnResult(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("recursive = true")
	a := filepath.Join(e.inbox, "north", "scan.pdf")
	b := filepath.Join(e.inbox, "south", "scan.pdf")
	c := filepath.Join(e.inbox, "other.pdf")
	write(t, a, pdf(t, 11, 1))
	write(t, b, pdf(t, 12, 3))
	write(t, c, pdf(t, 13, 2))
	o := e.options(cfg, true)
	o.Transport = shuffleTransport{}
	sum, err := runWith(t, o)
	if err != nil {
		t.Fatal(err)
	}
	for p, w := range map[string][2]int{a: {11, 1}, b: {12, 3}, c: {13, 2}} {
		r := readResult(t, p)
		if got, exp := invoiceNumber(t, r), fmt.Sprintf("INV-2026-%05d", w[0]); got != exp {
			t.Errorf("%s: invoice %q, want %q", p, got, exp)
		}
		if got := pageCount(t, r); got != w[1] {
			t.Errorf("%s: page_count %d, want %d", p, got, w[1])
		}
		if r.Source.Path != p {
			t.Errorf("%s: result names source %s", p, r.Source.Path)
		}
	}
	if sum.Done != 3 || !sum.OK() {
		t.Errorf("summary = %+v\n%s", sum, tail(e.logs.String(), 3000))
	}
	if st := e.emu.Stats(); st.DocumentsCreated != 3 {
		t.Errorf("documents_created=%d, want 3", st.DocumentsCreated)
	}
}

func runWith(t *testing.T, o daemon.Options) (daemon.Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return daemon.Run(ctx, o)
}

// pageCountTransport makes every page count in answers to reads wrong.
type pageCountTransport struct{}

var pageCountRe = regexp.MustCompile(`"page_count":\s*\d+`)

func (pageCountTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b = pageCountRe.ReplaceAll(b, []byte(`"page_count":99`))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// A document whose page count disagrees with the file is never written as
// its result: the file keeps waiting with the reason, and the run says so.
func TestResultThatDoesNotMatchItsFileIsNotWritten(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	cfg := e.config("")
	p := filepath.Join(e.inbox, "two-pages.pdf")
	write(t, p, pdf(t, 1, 2))
	o := e.options(cfg, true)
	o.Transport = pageCountTransport{}
	sum, err := runWith(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if exists(results.ResultPath(p)) || exists(results.ErrorPath(p)) {
		t.Error("an output was written for a document that does not match its file")
	}
	if sum.OK() || sum.Waiting != 1 || len(sum.Problems) != 1 || !strings.Contains(sum.Problems[0], "RESULT_MISMATCH") {
		t.Errorf("summary = %+v", sum)
	}
	if !strings.Contains(e.logs.String(), "does not match the file") {
		t.Error("the mismatch is not in the log")
	}
}
