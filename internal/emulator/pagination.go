package emulator

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/ppsync/ppsync/internal/apitypes"
)

func pageLimit(r *http.Request, def int) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
		return 0, false
	}
	return min(n, 100), true
}

// offsetPage pages a fixed ordering with an opaque offset cursor.
func offsetPage[T any](items []T, r *http.Request, def int) ([]T, apitypes.Pagination, bool) {
	limit, ok := pageLimit(r, def)
	if !ok {
		return nil, apitypes.Pagination{}, false
	}
	off := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, ok := decodeCursorOffset(c)
		if !ok {
			return nil, apitypes.Pagination{}, false
		}
		off = n
	}
	off = min(off, len(items))
	end := min(off+limit, len(items))
	p := apitypes.Pagination{Limit: limit, HasNextPage: end < len(items)}
	if p.HasNextPage {
		c := encodeCursorOffset(end)
		p.NextCursor = &c
	}
	return items[off:end], p, true
}

func sortJobs(js []*job) {
	sort.Slice(js, func(i, k int) bool {
		if !js[i].updated.Equal(js[k].updated) {
			return js[i].updated.After(js[k].updated)
		}
		return js[i].ExtractionID > js[k].ExtractionID
	})
}
