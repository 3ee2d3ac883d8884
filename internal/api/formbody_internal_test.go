package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"
)

// unsized hides a reader's type, so its size is unknown.
type unsized struct{ io.Reader }

func (unsized) Close() error { return nil }

// closeCount counts the closes of one source.
type closeCount struct {
	io.Reader
	n *int
}

func (c closeCount) Close() error { *c.n++; return nil }

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// readIn reads r whole in pieces of at most step bytes, as a transport with
// a small buffer would.
func readIn(r io.Reader, step int) ([]byte, error) {
	var out bytes.Buffer
	buf := make([]byte, step)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

// The form read from multipartBody is the one mime/multipart writes for the
// same fields and files, byte for byte, however small the reads; its
// declared length is its length; a file of unknown size makes it chunked;
// and every file is closed once, by the body's Close.
func TestFormBodyIsTheMultipartForm(t *testing.T) {
	contents := [][]byte{
		bytes.Repeat([]byte("%PDF-1.7 first "), 3000),
		{0x25},
		[]byte("%PDF-1.4 tiny"),
		bytes.Repeat([]byte{0, 1, 2, 0xff}, 70000),
	}
	names := []string{"a.pdf", `quo"te.pdf`, "c.png", "d.pdf"}
	for _, unknown := range []bool{false, true} {
		for _, step := range []int{1, 7, 512, 32 << 10, 1 << 20} {
			closes := make([]int, len(contents))
			var ups []Upload
			for i, c := range contents {
				var rc io.ReadCloser = closeCount{bytes.NewReader(c), &closes[i]}
				if unknown && i == 2 {
					rc = unsized{bytes.NewReader(c)}
				}
				up := Upload{Name: names[i], Open: func() (io.ReadCloser, error) { return rc, nil }, SHA256: sum(c)}
				if !unknown || i != 2 {
					up.Size = int64(len(c))
				}
				ups = append(ups, up)
			}
			body, ctype, err := multipartBody("prs_x", ups)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readIn(body, step)
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			sb, sized := body.(*sizedBody)
			if sized == unknown {
				t.Fatalf("unknown size %v: body sized %v", unknown, sized)
			}
			if sized && sb.ContentLength() != int64(len(got)) {
				t.Fatalf("step %d: declared %d bytes, read %d", step, sb.ContentLength(), len(got))
			}
			// The same form from mime/multipart, with the body's boundary.
			_, params, err := mime.ParseMediaType(ctype)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			mw := multipart.NewWriter(&want)
			if err := mw.SetBoundary(params["boundary"]); err != nil {
				t.Fatal(err)
			}
			if err := mw.WriteField("parser_id", "prs_x"); err != nil {
				t.Fatal(err)
			}
			for i, up := range ups {
				w, err := mw.CreatePart(partHeader(up))
				if err != nil {
					t.Fatal(err)
				}
				w.Write(contents[i])
			}
			mw.Close()
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("step %d, unknown %v: the body differs from mime/multipart's form (%d against %d bytes)", step, unknown, len(got), want.Len())
			}
			counted := func(i int) bool { return !unknown || i != 2 }
			for i, n := range closes {
				if counted(i) && n != 0 {
					t.Fatalf("file %d closed %d times before the body's Close", i, n)
				}
			}
			if err := body.Close(); err != nil {
				t.Fatal(err)
			}
			body.Close()
			for i, n := range closes {
				if counted(i) && n != 1 {
					t.Fatalf("file %d closed %d times, want once by the body's Close", i, n)
				}
			}
		}
	}
}

// A file whose bytes are not what was declared (it grew, shrank, or its
// content is not its SHA256's) ends the body with the error that names it,
// before the form's closing boundary: the server never gets a whole request.
func TestFormBodyStopsAtAFileThatChanged(t *testing.T) {
	content := bytes.Repeat([]byte("%PDF-1.7 body "), 1000)
	cases := []struct {
		name    string
		size    int64
		sha     string
		changed bool // FileChangedError, else SourceError
		says    string
	}{
		{"grew", int64(len(content)) - 10, "", false, "size changed"},
		{"shrank", int64(len(content)) + 10, "", false, "size changed"},
		{"grew with a hash", int64(len(content)) - 10, sum(content), true, ""},
		{"other bytes", int64(len(content)), sum([]byte("other")), true, ""},
		{"other bytes, size unknown", -1, sum([]byte("other")), true, ""},
	}
	for _, c := range cases {
		up := Upload{Name: "x.pdf", SHA256: c.sha, Open: func() (io.ReadCloser, error) {
			if c.size < 0 {
				return unsized{bytes.NewReader(content)}, nil
			}
			return io.NopCloser(bytes.NewReader(content)), nil
		}}
		if c.size > 0 {
			up.Size = c.size
		}
		body, _, err := multipartBody("prs_x", []Upload{up, {Name: "y.pdf", Size: 3, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("abc")), nil
		}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readIn(body, 4096)
		var fc *FileChangedError
		var se *SourceError
		switch {
		case c.changed && !errors.As(err, &fc):
			t.Errorf("%s: err = %v, want FileChangedError", c.name, err)
		case !c.changed && (!errors.As(err, &se) || se.Name != "x.pdf" || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%s: err = %v, want SourceError of x.pdf saying %q", c.name, err, c.says)
		}
		if bytes.Contains(got, []byte("y.pdf")) {
			t.Errorf("%s: the body went on past the changed file", c.name)
		}
		// The error stays: a transport that reads again gets it again.
		if _, err2 := body.Read(make([]byte, 10)); err2 == nil || err2 == io.EOF {
			t.Errorf("%s: a read after the error gave %v", c.name, err2)
		}
		body.Close()
	}
}
