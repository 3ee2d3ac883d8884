// Package writer writes a record around its owner's checks.
package writer

import "example.com/violating/internal/records"

// Write breaks the rule.
func Write(tx *records.Tx) {
	tx.Store()
	tx.SeedRecord()
}
