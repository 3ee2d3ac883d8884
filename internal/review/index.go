package review

import "sync"

// Index finds probable duplicates: it maps the duplicate keys (Facts.Keys)
// of every delivered result to its source file. It is kept in memory and
// filled from the result files at start-up. Safe for concurrent use.
type Index struct {
	mu       sync.Mutex
	byKey    map[string]string   // key → source
	bySource map[string][]string // source → its keys
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byKey: map[string]string{}, bySource: map[string][]string{}}
}

// Add records the delivered result of source, replacing its earlier facts.
func (ix *Index) Add(source string, f Facts) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.remove(source)
	keys := f.Keys()
	for _, k := range keys {
		if _, taken := ix.byKey[k]; !taken {
			ix.byKey[k] = source
		}
	}
	ix.bySource[source] = keys
}

// Remove forgets source (its result was rejected or is gone).
func (ix *Index) Remove(source string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.remove(source)
}

func (ix *Index) remove(source string) {
	for _, k := range ix.bySource[source] {
		if ix.byKey[k] == source {
			delete(ix.byKey, k)
		}
	}
	delete(ix.bySource, source)
}

// Match returns another source whose delivered result has one of f's
// keys; a file is never a duplicate of itself.
func (ix *Index) Match(source string, f Facts) (string, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, k := range f.Keys() {
		if s, ok := ix.byKey[k]; ok && s != source {
			return s, true
		}
	}
	return "", false
}

// Len is how many sources the index holds.
func (ix *Index) Len() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.bySource)
}
