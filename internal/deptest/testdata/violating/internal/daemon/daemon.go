// Package daemon serves HTTP itself instead of wiring a stage that does.
package daemon

import (
	"net/http"

	_ "example.com/violating/internal/watcher"
)

// Serve is what a stage should own.
func Serve(addr string) error { return http.ListenAndServe(addr, nil) }
