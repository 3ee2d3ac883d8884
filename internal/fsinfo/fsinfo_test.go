package fsinfo_test

import (
	"testing"

	"github.com/ppsync/ppsync/internal/fsinfo"
)

func TestLocalTempIsNotNetwork(t *testing.T) {
	info, err := fsinfo.Of(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if info.Network || info.Kind == "" {
		t.Fatalf("temp dir = %+v", info)
	}
	if _, err := fsinfo.Of("/does/not/exist/at/all"); err == nil {
		t.Fatal("no error for a missing path")
	}
}
