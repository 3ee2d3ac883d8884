package uploader

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
)

func keys(qs []queued) []string {
	out := []string{}
	for _, q := range qs {
		out = append(out, q.key)
	}
	return out
}

func TestPick(t *testing.T) {
	q := func(key, name string, pages int, size int64) queued {
		return queued{key: key, name: name, pages: pages, size: size}
	}
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
	}{
		{"all fit", []queued{q("a", "a.pdf", 1, 10), q("b", "b.pdf", 2, 10)}, 50, 100, &credits{},
			[]string{"a", "b"}, []string{}, 3},
		{"file cap", []queued{q("a", "a.pdf", 1, 1), q("b", "b.pdf", 1, 1), q("c", "c.pdf", 1, 1)}, 2, 100, &credits{},
			[]string{"a", "b"}, []string{"c"}, 2},
		{"byte cap", []queued{q("a", "a.pdf", 1, 60), q("b", "b.pdf", 1, 60)}, 50, 100, &credits{},
			[]string{"a"}, []string{"b"}, 1},
		{"a lone file over the byte cap still goes", []queued{q("a", "a.pdf", 1, 500)}, 50, 100, &credits{},
			[]string{"a"}, []string{}, 1},
		{"credits stop the batch in queue order", []queued{q("a", "a.pdf", 3, 1), q("b", "b.pdf", 3, 1), q("c", "c.pdf", 1, 1)}, 50, 100, known(5),
			[]string{"a"}, []string{"b", "c"}, 3},
		{"no credits, nothing taken", []queued{q("a", "a.pdf", 3, 1)}, 50, 100, known(2),
			[]string{}, []string{"a"}, 0},
		{"same upload name waits for the next batch", []queued{q("a", "scan.pdf", 1, 1), q("b", "scan.pdf", 1, 1), q("c", "c.pdf", 1, 1)}, 50, 100, &credits{},
			[]string{"a", "c"}, []string{"b"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			take, rest, pages := pick(tt.q, tt.maxFiles, tt.maxBytes, tt.c)
			if !reflect.DeepEqual(keys(take), tt.take) || !reflect.DeepEqual(keys(rest), tt.rest) || pages != tt.wantPages {
				t.Errorf("take %v rest %v pages %d, want %v %v %d", keys(take), keys(rest), pages, tt.take, tt.rest, tt.wantPages)
			}
		})
	}
}

// Repeated picks never put two files with the same upload name in one
// batch, and every file ends in some batch.
func TestPickGroupsByUploadName(t *testing.T) {
	var q []queued
	for i := range 12 {
		q = append(q, queued{key: fmt.Sprint(i), name: fmt.Sprintf("n%d.pdf", i%3), pages: 1, size: 1})
	}
	seen := 0
	for len(q) > 0 {
		take, rest, _ := pick(q, 50, 1<<20, &credits{})
		names := map[string]bool{}
		for _, d := range take {
			if names[d.name] {
				t.Fatalf("two files named %s in one batch", d.name)
			}
			names[d.name] = true
		}
		if len(take) == 0 {
			t.Fatal("no progress")
		}
		seen += len(take)
		q = rest
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
