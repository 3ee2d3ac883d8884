package netutil_test

import (
	"testing"

	"github.com/ppsync/ppsync/internal/netutil"
)

func TestIsLoopback(t *testing.T) {
	for in, want := range map[string]bool{
		"localhost": true, "LOCALHOST:80": true, "127.0.0.1": true, "127.0.0.1:9847": true, "127.8.9.10": true,
		"::1": true, "[::1]:9847": true, "[::1]": true,
		"": false, ":9847": false, "0.0.0.0:9847": false, "10.0.0.1": false, "example.com": false,
		"localhost.example.com": false, "[::]:80": false, "192.168.1.2:443": false,
	} {
		if got := netutil.IsLoopback(in); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", in, got, want)
		}
	}
}
