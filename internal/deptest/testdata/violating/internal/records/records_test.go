package records

import "testing"

func TestSeed(t *testing.T) { (&Tx{}).SeedRecord() }
