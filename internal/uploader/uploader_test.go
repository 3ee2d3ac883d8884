package uploader_test

import (
	"testing"

	"github.com/ppsync/ppsync/internal/uploader"
)

func TestIdempotencyKeyDependsOnContentOnly(t *testing.T) {
	a := uploader.IdempotencyKey("prs_1", []string{"aa", "bb", "cc"})
	if b := uploader.IdempotencyKey("prs_1", []string{"cc", "aa", "bb"}); a != b {
		t.Error("key depends on order")
	}
	for _, other := range []string{
		uploader.IdempotencyKey("prs_2", []string{"aa", "bb", "cc"}),
		uploader.IdempotencyKey("prs_1", []string{"aa", "bb"}),
		uploader.IdempotencyKey("prs_1", []string{"aa", "bb", "cd"}),
	} {
		if other == a {
			t.Error("different content, same key")
		}
	}
	if len(a) > 255 {
		t.Errorf("key too long: %d", len(a))
	}
}
