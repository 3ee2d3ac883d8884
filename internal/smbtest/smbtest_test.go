package smbtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/fsinfo"
	"github.com/ppsync/ppsync/internal/smbtest"
)

// The harness gives a real share: what a client writes lands in the
// server's folder, what another machine writes is seen by the client, a
// stopped server makes the mount fail with EIO, and a started one makes it
// work again.
func TestShareRoundTripAndOutage(t *testing.T) {
	t0 := time.Now()
	s := smbtest.Start(t)
	t.Logf("started in %v", time.Since(t0))
	ctx := context.Background()

	if err := os.WriteFile(filepath.Join(s.Mount, "client.txt"), []byte("from the client"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Folder, "client.txt")); err != nil || string(b) != "from the client" {
		t.Fatalf("server folder has %q, %v; want the client's write", b, err)
	}
	s.WriteDirect("sub/direct.txt", []byte("from the server"))
	if b, err := os.ReadFile(filepath.Join(s.Mount, "sub", "direct.txt")); err != nil || string(b) != "from the server" {
		t.Fatalf("mount has %q, %v; want the server-side write", b, err)
	}
	if err := s.Put(ctx, "put.txt", []byte("from smbclient")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Mount, "put.txt")); err != nil || string(b) != "from smbclient" {
		t.Fatalf("mount has %q, %v; want smbclient's upload", b, err)
	}
	if fi, err := fsinfo.Of(s.Mount); err != nil || !fi.Network {
		t.Errorf("fsinfo.Of(mount) = %+v, %v; want a network filesystem", fi, err)
	}

	s.StopServer()
	_, err := os.ReadDir(s.Mount)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("listing the share with its server down: %v; want EIO", err)
	}
	if err := os.WriteFile(filepath.Join(s.Mount, "down.txt"), nil, 0o644); !errors.Is(err, syscall.EIO) {
		t.Fatalf("writing to the share with its server down: %v; want EIO", err)
	}
	s.StartServer()
	t1 := time.Now()
	if err := s.WaitReachable(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("reachable again %v after the restart", time.Since(t1))
	if err := os.WriteFile(filepath.Join(s.Mount, "back.txt"), []byte("back"), 0o644); err != nil {
		t.Fatalf("writing after the server came back: %v", err)
	}
}
