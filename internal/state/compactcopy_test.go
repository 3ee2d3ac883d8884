package state

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// compactCopy copies every bucket, nested bucket, record and sequence,
// across as many transactions as its size bound asks for, and releases as
// it reads.
func TestCompactCopyKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) *bolt.DB {
		db, err := bolt.Open(filepath.Join(dir, name), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	src, dst := open("src.db"), open("dst.db")
	val := bytes.Repeat([]byte("v"), 500)
	if err := src.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"a", "b"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			if err := b.SetSequence(uint64(len(name) * 7)); err != nil {
				return err
			}
			for i := range 3000 {
				if err := b.Put(fmt.Appendf(nil, "%s-%05d", name, i), val); err != nil {
					return err
				}
			}
			sub, err := b.CreateBucket([]byte("nested"))
			if err != nil {
				return err
			}
			if err := sub.SetSequence(42); err != nil {
				return err
			}
			if err := sub.Put([]byte("k"), []byte("in the nested bucket")); err != nil {
				return err
			}
		}
		_, err := tx.CreateBucket([]byte("empty"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	releases := 0
	if err := compactCopy(dst, src, 64<<10, func() { releases++ }); err != nil {
		t.Fatal(err)
	}
	if want := 2 * 3000 * 508 / compactReleaseEvery; releases < want {
		t.Errorf("%d releases while copying, want at least %d", releases, want)
	}
	dump := func(db *bolt.DB) string {
		var out bytes.Buffer
		var walk func(b *bolt.Bucket, path string)
		walk = func(b *bolt.Bucket, path string) {
			fmt.Fprintf(&out, "%s seq=%d\n", path, b.Sequence())
			_ = b.ForEach(func(k, v []byte) error {
				if v == nil {
					walk(b.Bucket(k), path+"/"+string(k))
					return nil
				}
				fmt.Fprintf(&out, "%s/%s=%d:%x\n", path, k, len(v), v[:min(4, len(v))])
				return nil
			})
		}
		_ = db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error { walk(b, string(name)); return nil })
		})
		return out.String()
	}
	if a, b := dump(src), dump(dst); a != b || len(a) < 6000*10 {
		t.Errorf("copy differs from the original (%d and %d bytes of dump)", len(a), len(b))
	}
}
