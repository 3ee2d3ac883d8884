package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/control"
)

// The bounded selection gives exactly the page a sort of every row gives,
// for every order, offset and limit, and never keeps more rows than the
// end of the page.
func TestPageOfMatchesAFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var rows []row
	seen := map[string]bool{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for len(rows) < 3000 {
		name := fmt.Sprintf("f%03d.pdf", r.IntN(400)) // names repeat across folders
		path := fmt.Sprintf("/in/%d/%s", r.IntN(9), name)
		if seen[path] {
			continue // paths are unique in the state
		}
		seen[path] = true
		rows = append(rows, row{Row: control.Row{Path: path, Inbox: fmt.Sprintf("/in/%d", r.IntN(3)), State: []string{"done", "failed", "queued"}[r.IntN(3)],
			When: t0.Add(time.Duration(r.IntN(50)) * time.Minute), Pages: r.IntN(5), Cost: r.IntN(5)}, key: name})
	}
	for _, by := range []string{"", "name", "inbox", "-inbox", "state", "pages", "-pages", "cost", "when", "-when"} {
		order := rowOrder(by)
		all := slices.Clone(rows)
		slices.SortFunc(all, order)
		for _, pg := range []struct{ off, limit int }{{0, 50}, {50, 50}, {2990, 50}, {3000, 50}, {4000, 10}, {0, 0}, {100, 0}, {-5, 3}} {
			sel := pageOf(pg.off, pg.limit, order)
			most := 0
			for _, row := range rows {
				sel.offer(row)
				most = max(most, len(sel.kept))
			}
			off := min(max(pg.off, 0), len(all))
			end := len(all)
			if pg.limit > 0 {
				end = min(off+pg.limit, len(all))
				if bound := max(pg.off, 0) + pg.limit; most > bound {
					t.Errorf("sort %q page %v: kept %d rows, want at most %d", by, pg, most, bound)
				}
			}
			if got := sel.rows(); !slices.EqualFunc(got, all[off:end], func(a control.Row, b row) bool { return a.Path == b.Path && a.When == b.When && a.Pages == b.Pages }) {
				t.Errorf("sort %q page %v: %d rows differ from a full sort's %d", by, pg, len(got), end-off)
			}
		}
	}
	// With unique paths the order is total.
	if rowOrder("")(row{Row: control.Row{Path: "/a"}, key: "x"}, row{Row: control.Row{Path: "/b"}, key: "x"}) == 0 {
		t.Error("two paths compare equal")
	}
}

// The file list's last answer is given again for the same query while the
// state does not change, and while it changes only as long as the walk
// that made it is recent for its cost; another query always walks.
func TestFileListReusesItsLastAnswer(t *testing.T) {
	f := newFixture(t)
	base := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	f.add(t, 0, "a.pdf", "done", 1, base)
	ctx := context.Background()
	q := control.Query{Sort: "name", Limit: 50}
	count := func(q control.Query) int {
		t.Helper()
		p, err := f.reader.Files(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return p.Total
	}
	if n := count(q); n != 1 {
		t.Fatalf("%d files, want 1", n)
	}
	f.reader.mu.Lock()
	f.reader.last.took = time.Hour // as if the walk had been costly
	f.reader.mu.Unlock()
	f.add(t, 0, "b.pdf", "done", 1, base)
	if n := count(q); n != 1 {
		t.Errorf("%d files right after a write, want the last answer's 1 (its walk was costly)", n)
	}
	if n := count(control.Query{Sort: "-when", Limit: 50}); n != 2 {
		t.Errorf("%d files for another query, want 2", n)
	}
	f.reader.mu.Lock()
	f.reader.last.took = 0 // a cheap walk
	f.reader.mu.Unlock()
	f.add(t, 0, "c.pdf", "done", 1, base)
	if n := count(control.Query{Sort: "-when", Limit: 50}); n != 3 {
		t.Errorf("%d files after a write with a cheap last walk, want 3", n)
	}
}
