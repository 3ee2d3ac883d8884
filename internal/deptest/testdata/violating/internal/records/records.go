// Package records owns its records; SeedRecord is for tests and fixtures.
package records

// Tx is a transaction.
type Tx struct{ n int }

// Store writes through the owner's checks.
func (t *Tx) Store() { t.SeedRecord() }

// SeedRecord writes a record without the owner's checks.
func (t *Tx) SeedRecord() { t.n++ }
