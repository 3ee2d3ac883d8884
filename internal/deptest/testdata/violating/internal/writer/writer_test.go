package writer

import (
	"testing"

	"example.com/violating/internal/records"
)

// A test may seed records.
func TestWrite(t *testing.T) { (&records.Tx{}).SeedRecord() }
