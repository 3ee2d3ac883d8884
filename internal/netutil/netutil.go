// Package netutil holds the one definition of a loopback address that the
// config's validation, the API client (plain http:// only to loopback) and
// the admin endpoint (authentication off loopback) share.
package netutil

import (
	"net"
	"strings"
)

// IsLoopback reports whether a host, or a host:port, names this machine
// only. An empty host (":9847") listens everywhere: not loopback.
func IsLoopback(hostOrAddr string) bool {
	host := hostOrAddr
	if h, _, err := net.SplitHostPort(hostOrAddr); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
