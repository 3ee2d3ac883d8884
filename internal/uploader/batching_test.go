package uploader

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
)

// testEntry makes a queue entry whose key, for keys, is key.
func testEntry(key, name string, pages int, size int64) queued {
	return queued{sha: sha256.Sum256([]byte(key)), name: nameHash(name), pages: int32(pages), size: size}
}

// keys returns the keys of the entries made by testEntry with one of known.
func keys(qs []queued, known ...string) []string {
	out := []string{}
	for _, q := range qs {
		k := "?"
		for _, c := range known {
			if sha256.Sum256([]byte(c)) == q.sha {
				k = c
			}
		}
		out = append(out, k)
	}
	return out
}

// queueOf returns a queue holding qs in order.
func queueOf(qs []queued) *fifo {
	f := &fifo{}
	for _, q := range qs {
		f.pushBack(q)
	}
	return f
}

func TestPick(t *testing.T) {
	q := testEntry
	known := func(n int) *credits { c := &credits{}; c.balance, c.known = n, true; return c }
	tests := []struct {
		name      string
		q         []queued
		maxFiles  int
		maxBytes  int64
		c         *credits
		take      []string
		rest      []string
		wantPages int
		held      []string // passed over for needing more than the whole balance
	}{
		{"all fit", []queued{q("a", "a.pdf", 1, 10), q("b", "b.pdf", 2, 10)}, 50, 100, &credits{},
			[]string{"a", "b"}, []string{}, 3, nil},
		{"file cap", []queued{q("a", "a.pdf", 1, 1), q("b", "b.pdf", 1, 1), q("c", "c.pdf", 1, 1)}, 2, 100, &credits{},
			[]string{"a", "b"}, []string{"c"}, 2, nil},
		{"byte cap", []queued{q("a", "a.pdf", 1, 60), q("b", "b.pdf", 1, 60)}, 50, 100, &credits{},
			[]string{"a"}, []string{"b"}, 1, nil},
		{"a lone file over the byte cap still goes", []queued{q("a", "a.pdf", 1, 500)}, 50, 100, &credits{},
			[]string{"a"}, []string{}, 1, nil},
		{"a file over the credits left is passed over, later ones that fit go", []queued{q("a", "a.pdf", 3, 1), q("b", "b.pdf", 3, 1), q("c", "c.pdf", 1, 1)}, 50, 100, known(5),
			[]string{"a", "c"}, []string{"b"}, 4, nil},
		{"no head-of-line blocking: a file over the whole balance waits, smaller ones go", []queued{q("a", "a.pdf", 60, 1), q("b", "b.pdf", 1, 1), q("c", "c.pdf", 1, 1)}, 50, 100, known(50),
			[]string{"b", "c"}, []string{"a"}, 2, []string{"a"}},
		{"no credits, nothing taken", []queued{q("a", "a.pdf", 3, 1)}, 50, 100, known(2),
			[]string{}, []string{"a"}, 0, []string{"a"}},
		{"same upload name waits for the next batch", []queued{q("a", "scan.pdf", 1, 1), q("b", "scan.pdf", 1, 1), q("c", "c.pdf", 1, 1)}, 50, 100, &credits{},
			[]string{"a", "c"}, []string{"b"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := queueOf(tt.q)
			take, pages, held, _ := pick(f, tt.maxFiles, tt.maxBytes, tt.c)
			ks, rest := keys(take, "a", "b", "c"), keys(f.slice(), "a", "b", "c")
			if !reflect.DeepEqual(ks, tt.take) || !reflect.DeepEqual(rest, tt.rest) || pages != tt.wantPages {
				t.Errorf("take %v rest %v pages %d, want %v %v %d", ks, rest, pages, tt.take, tt.rest, tt.wantPages)
			}
			want := tt.held
			if want == nil {
				want = []string{}
			}
			if hs := keys(held, "a", "b", "c"); !reflect.DeepEqual(hs, want) {
				t.Errorf("held %v, want %v", hs, want)
			}
		})
	}
}

// Repeated picks never put two files with the same upload name in one
// batch, and every file ends in some batch.
func TestPickGroupsByUploadName(t *testing.T) {
	q := &fifo{}
	for i := range 12 {
		q.pushBack(testEntry(fmt.Sprint(i), fmt.Sprintf("n%d.pdf", i%3), 1, 1))
	}
	seen := 0
	for q.Len() > 0 {
		take, _, _, _ := pick(q, 50, 1<<20, &credits{})
		names := map[uint32]bool{}
		for _, d := range take {
			if names[d.name] {
				t.Fatalf("two files named alike (%x) in one batch", d.name)
			}
			names[d.name] = true
		}
		if len(take) == 0 {
			t.Fatal("no progress")
		}
		seen += len(take)
	}
	if seen != 12 {
		t.Errorf("%d files batched, want 12", seen)
	}
}

func docs(t *testing.T, js string) []apitypes.Document {
	t.Helper()
	var ds []apitypes.Document
	if err := json.Unmarshal([]byte(js), &ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestMatchByNameNeverByPosition(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		docs  string
		want  map[int]string
	}{
		{"reordered", []string{"a.pdf", "b.pdf", "c.pdf"},
			`[{"document_id":"dc","filename":"c.pdf"},{"document_id":"da","filename":"a.pdf"},{"document_id":"db","filename":"b.pdf"}]`,
			map[int]string{0: "da", 1: "db", 2: "dc"}},
		{"same count, other names: nothing guessed", []string{"a.pdf", "b.pdf"},
			`[{"document_id":"dx","filename":"x.pdf"},{"document_id":"dy","filename":"y.pdf"}]`,
			map[int]string{}},
		{"a file the answer leaves out", []string{"a.pdf", "b.pdf"},
			`[{"document_id":"db","filename":"b.pdf"}]`,
			map[int]string{1: "db"}},
		{"a document naming no file is ignored", []string{"a.pdf"},
			`[{"document_id":"dz","filename":"z.pdf"},{"document_id":"da","filename":"a.pdf"}]`,
			map[int]string{0: "da"}},
		{"a name twice in the answer is ambiguous", []string{"a.pdf", "b.pdf"},
			`[{"document_id":"d1","filename":"a.pdf"},{"document_id":"d2","filename":"a.pdf"},{"document_id":"db","filename":"b.pdf"}]`,
			map[int]string{1: "db"}},
		{"a name twice in an old batch is ambiguous", []string{"scan.pdf", "scan.pdf"},
			`[{"document_id":"d1","filename":"scan.pdf"},{"document_id":"d2","filename":"scan.pdf"}]`,
			map[int]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := match(tt.names, docs(t, tt.docs)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHalvesKeepEveryFileOnce(t *testing.T) {
	for n := 2; n <= 7; n++ {
		b := state.Batch{ParserID: "prs"}
		for i := range n {
			b.Docs = append(b.Docs, fmt.Sprint("k", i))
			b.Paths = append(b.Paths, fmt.Sprint("/in/", i, ".pdf"))
			b.Names = append(b.Names, fmt.Sprint(i, ".pdf"))
		}
		hs := halves(b, nil)
		if len(hs) != 2 || len(hs[0].Docs) == 0 || len(hs[1].Docs) == 0 {
			t.Fatalf("n=%d: halves %v", n, hs)
		}
		var all []string
		for _, h := range hs {
			if len(h.Docs) != len(h.Paths) || len(h.Docs) != len(h.Names) || h.ParserID != "prs" || h.Key != "" {
				t.Fatalf("n=%d: malformed half %+v", n, h)
			}
			for i := range h.Docs {
				if h.Paths[i] != "/in/"+h.Names[i] {
					t.Fatalf("n=%d: path and name of a file separated: %s %s", n, h.Paths[i], h.Names[i])
				}
			}
			all = append(all, h.Docs...)
		}
		if !reflect.DeepEqual(all, b.Docs) {
			t.Errorf("n=%d: halves hold %v, want %v", n, all, b.Docs)
		}
	}
}

func TestHalvesBySize(t *testing.T) {
	b := state.Batch{Docs: []string{"a", "b", "c", "d"}, Paths: []string{"a", "b", "c", "d"}, Names: []string{"a", "b", "c", "d"}}
	for _, tt := range []struct {
		sizes []int64
		first int
	}{
		{[]int64{10, 10, 10, 10}, 2},
		{[]int64{100, 1, 1, 1}, 1},
		{[]int64{1, 1, 1, 100}, 3},
		{[]int64{1, 1, 100, 1}, 3},
	} {
		hs := halves(b, tt.sizes)
		if len(hs[0].Docs) != tt.first || len(hs[0].Docs)+len(hs[1].Docs) != 4 {
			t.Errorf("sizes %v: first half %v, want %d files", tt.sizes, hs[0].Docs, tt.first)
		}
	}
}
