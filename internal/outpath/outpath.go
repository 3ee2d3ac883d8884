// Package outpath decides where the outputs of an inbox file go: beside the
// file, or in a separate results folder that mirrors the inbox's tree. It
// works from local paths only, never from anything the API said.
package outpath

import (
	"path/filepath"
	"strings"
)

// ResultsPath is the path the outputs of file are named after: file itself
// when resultsDir is empty (outputs beside the original), else the same
// path relative to inboxRoot, under resultsDir. Append the result or error
// suffix to it (results.ResultPath / results.ErrorPath). A file that is not
// inside inboxRoot keeps only its base name, so nothing is ever written
// outside resultsDir.
func ResultsPath(inboxRoot, resultsDir, file string) string {
	if resultsDir == "" {
		return file
	}
	rel, err := filepath.Rel(inboxRoot, file)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		rel = filepath.Base(file)
	}
	return filepath.Join(resultsDir, rel)
}

// SourcePath is the inverse of ResultsPath: the inbox file whose outputs are
// named after out. It returns false when out is not under resultsDir.
func SourcePath(inboxRoot, resultsDir, out string) (string, bool) {
	if resultsDir == "" {
		return out, true
	}
	rel, err := filepath.Rel(resultsDir, out)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.Join(inboxRoot, rel), true
}
