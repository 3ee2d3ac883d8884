package state

import (
	"fmt"
	"slices"
)

// HandBack gives up the files of inbox that have not been sent yet: when
// another ppsync has taken the inbox's lease, those files are its to send.
// A file whose document is still waiting to be batched loses its record
// and leaves its document (a document left with no file is removed, so it
// is never sent); a file whose document is batched, sent or finished is
// kept, and its result is still written. It returns the paths given up:
// they are new to ppsync again if it takes the inbox back (and a result
// the other ppsync wrote for them is then recognised, not paid for again).
func (s *Store) HandBack(inbox string) ([]string, error) {
	var candidates []string
	if err := s.View(func(tx *Tx) error {
		return tx.OpenFiles(func(f File) error {
			if f.Inbox == inbox && (f.State == FileQueued || f.State == FileDuplicate) {
				candidates = append(candidates, f.Path)
			}
			return nil
		})
	}); err != nil {
		return nil, fmt.Errorf("hand back the unsent files of inbox %s: %w", inbox, err)
	}
	var given []string
	for chunk := range slices.Chunk(candidates, 64) {
		err := s.Update(func(tx *Tx) error {
			for _, p := range chunk {
				ok, err := tx.handBackFile(p, inbox)
				if err != nil {
					return err
				}
				if ok {
					given = append(given, p)
				}
			}
			return nil
		})
		if err != nil {
			return given, fmt.Errorf("hand back the unsent files of inbox %s: %w", inbox, err)
		}
	}
	return given, nil
}

// handBackFile gives up one file when its document is still queued.
func (t *Tx) handBackFile(path, inbox string) (bool, error) {
	f, ok, err := t.File(path)
	if err != nil || !ok || f.Inbox != inbox || (f.State != FileQueued && f.State != FileDuplicate) || f.SHA256 == "" {
		return false, err
	}
	d, ok, err := t.Doc(DocKey(f.ParserID, f.SHA256))
	if err != nil {
		return false, err
	}
	if ok && d.State != DocQueued {
		return false, nil // in a batch or sent: paid for, its result comes
	}
	if err := t.removeFile(OpHandBackFile, path); err != nil {
		return false, err
	}
	if !ok {
		return true, nil
	}
	if err := t.Detach(&d, path); err != nil {
		return false, err
	}
	if d.First != "" {
		return true, t.AmendDoc(d) // another file still has this content
	}
	if err := DocStep(OpHandBackDoc, d.Key, d.State, DocNone); err != nil {
		return false, err
	}
	t.touch()
	if err := t.tx.Bucket(bucketDocs).Delete([]byte(d.Key)); err != nil {
		return false, err
	}
	return true, unindex(t.tx, prefixDoc, d.Key)
}
