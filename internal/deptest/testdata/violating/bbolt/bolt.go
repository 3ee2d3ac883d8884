// Package bbolt stands in for the real store library.
package bbolt
