package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultRetention is how long the record of a finished file is kept.
const DefaultRetention = 180 * 24 * time.Hour

// pruneBatch bounds the records examined by one transaction, so the
// daemon's stages are never held up for long.
const pruneBatch = 1000

// pruneCompactEvery is how many batches Prune goes between checks of the
// file's free pages (a stat and a copy of bbolt's counters).
const pruneCompactEvery = 4

// PruneStats says what a Prune removed.
type PruneStats struct {
	Scanned      int // file and document records examined
	Files        int // file records removed
	Docs         int // document records removed
	Transactions int // write transactions used

	// Compactions counts the times the file was compacted in place
	// (CompactIfNeeded) during the prune; SizeBefore is its size before the
	// first, SizeAfter after the last.
	Compactions           int
	SizeBefore, SizeAfter int64
	// CompactErr is why a compaction failed; the prune went on without
	// compacting again, and the file is as large as before it.
	CompactErr error
}

// compactIfNeeded is Prune's compaction, asked after each batch: every
// pruneCompactEvery batches and at the end (last) it compacts the file in
// place when its free pages pass the threshold.
func (s *Store) compactIfNeeded(st *PruneStats, batch int, last bool) {
	if st.CompactErr != nil || (!last && batch%pruneCompactEvery != 0) {
		return
	}
	done, cs, err := s.CompactIfNeeded()
	if err != nil {
		st.CompactErr = err
		return
	}
	if done {
		if st.Compactions == 0 {
			st.SizeBefore = cs.Before
		}
		st.Compactions++
		st.SizeAfter = cs.After
	}
}

// Prune removes, in batches of small transactions, the records that no
// longer earn their place:
//
//   - a file record in a final state whose file no longer exists (gone,
//     deleted, or moved away after its result);
//   - a done file record updated longer ago than retention whose result
//     file still exists: if the file is seen again, its result file's
//     sha256 is recognised and it is not submitted again;
//   - a final document record (done or failed) updated longer ago than
//     retention. This is what retention trades away: the same content
//     dropped again after that, under another name, is submitted (and
//     charged) again instead of getting the old result.
//
// Records of files in flight (queued, duplicate), documents not final and
// batch intents are never touched. Every few batches, and at the end, the
// file is compacted in place when pruning has left more than CompactRatio
// of it free (CompactIfNeeded), so a large prune never leaves much more
// than that free at any time. exists must report whether a path is
// there, saying false only when it is definitely absent; it is also asked
// about each file's inbox, and the records of an inbox it denies are left
// alone, so the caller should deny an inbox its watcher reports
// unreachable (an unmounted share may leave an empty folder behind). It is
// called outside any transaction. retention <= 0 keeps finished records of
// existing files for ever.
func (s *Store) Prune(ctx context.Context, now time.Time, retention time.Duration, exists func(path string) bool) (PruneStats, error) {
	var st PruneStats
	cutoff := time.Time{}
	if retention > 0 {
		cutoff = now.Add(-retention)
	}
	reachable := map[string]bool{}
	after := ""
	for batch := 1; ; batch++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		var cands []File
		var last string
		var more bool
		err := s.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketFiles).Cursor()
			k, v := c.First()
			if after != "" {
				k, v = c.Seek([]byte(after))
				if k != nil && string(k) == after {
					k, v = c.Next()
				}
			}
			n := 0
			for ; k != nil && n < pruneBatch; k, v = c.Next() {
				n++
				last = string(k)
				var f File
				if err := decode(v, &f); err != nil {
					return fmt.Errorf("state record files/%s: %w", k, err)
				}
				if FileFinal(f.State) {
					cands = append(cands, f)
				}
			}
			st.Scanned += n
			more = k != nil
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("prune state %s: %w", s.path, err)
		}
		var drop []File
		for _, f := range cands {
			ok, seen := reachable[f.Inbox]
			if !seen {
				ok = f.Inbox == "" || exists(f.Inbox)
				reachable[f.Inbox] = ok
			}
			if !ok {
				continue
			}
			switch {
			case !exists(f.Path):
				drop = append(drop, f)
			case f.State == FileDone && !cutoff.IsZero() && f.Updated.Before(cutoff) && f.Result != "" && exists(f.Result):
				drop = append(drop, f)
			}
		}
		if len(drop) > 0 {
			n, err := s.deleteFiles(drop)
			st.Files += n
			st.Transactions++
			if err != nil {
				return st, err
			}
		}
		// A pass over every record would otherwise leave the whole file
		// counted in the process's memory; failing to release costs only that.
		_ = s.ReleaseMapped()
		s.compactIfNeeded(&st, batch, !more && cutoff.IsZero())
		if !more {
			break
		}
		after = last
	}
	if cutoff.IsZero() {
		return st, nil
	}
	err := s.pruneDocs(ctx, cutoff, &st)
	return st, err
}

// deleteFiles removes the given records, each only if it has not changed
// since it was read.
func (s *Store) deleteFiles(fs []File) (int, error) {
	n := 0
	err := s.Update(func(tx *Tx) error {
		for _, f := range fs {
			cur, ok, err := tx.File(f.Path)
			if err != nil {
				return err
			}
			if !ok || cur.State != f.State || !cur.Updated.Equal(f.Updated) {
				continue // the file started a new life meanwhile
			}
			if err := tx.ForgetFile(f.Path); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune state %s: %w", s.path, err)
	}
	return n, nil
}

// pruneDocs removes final documents last updated before cutoff.
func (s *Store) pruneDocs(ctx context.Context, cutoff time.Time, st *PruneStats) error {
	after := ""
	for batch := 1; ; batch++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, dropped, last, more := 0, 0, "", false
		err := s.update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketDocs)
			c := b.Cursor()
			k, v := c.First()
			if after != "" {
				k, v = c.Seek([]byte(after))
				if k != nil && string(k) == after {
					k, v = c.Next()
				}
			}
			var drop [][]byte
			for ; k != nil && n < pruneBatch; k, v = c.Next() {
				n++
				last = string(k)
				var d struct {
					State   DocState  `json:"state"`
					Updated time.Time `json:"updated"`
				}
				if err := json.Unmarshal(v, &d); err != nil {
					return fmt.Errorf("state record docs/%s: %w", k, err)
				}
				if DocFinal(d.State) && d.Updated.Before(cutoff) && !anyOpen(tx, string(k)) {
					drop = append(drop, append([]byte(nil), k...))
				}
			}
			more = k != nil
			for _, k := range drop {
				if err := b.Delete(k); err != nil {
					return err
				}
				if err := unindex(tx, prefixDoc, string(k)); err != nil {
					return err
				}
				if err := dropDocFiles(tx, string(k)); err != nil {
					return err
				}
			}
			dropped = len(drop)
			return nil
		})
		st.Scanned += n
		st.Transactions++
		_ = s.ReleaseMapped()
		if err != nil {
			return fmt.Errorf("prune state %s: %w", s.path, err)
		}
		st.Docs += dropped
		s.compactIfNeeded(st, batch, !more)
		if !more {
			return nil
		}
		after = last
	}
}

// anyOpen reports whether a file attached to document key is still
// waiting. It reads the document's files once per prune, not per copy.
func anyOpen(tx *bolt.Tx, key string) bool {
	open := tx.Bucket(bucketOpen)
	found := false
	_ = eachUnder(nil, tx.Bucket(bucketDocFiles), docPrefix(key), func(p string) error {
		if open.Get([]byte(prefixFile+p)) != nil {
			found = true
			return errStop
		}
		return nil
	})
	return found
}
