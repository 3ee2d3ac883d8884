package pdfcheck

import "testing"

// OneBigStream is oneBigStream for the package's external tests.
func OneBigStream(tb testing.TB, want int) []byte { return oneBigStream(tb, want) }
