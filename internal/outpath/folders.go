package outpath

import "slices"

// Folders are the folders an inbox's results, error files and moved files
// are written to: the inbox itself unless a results folder takes its
// outputs (with move, the processed and failed folders, inside it, are
// written to either way), the results folder, and with move the processed
// and failed folders. Each is named once.
func Folders(inboxRoot, resultsDir, processedDir, failedDir string, move bool) []string {
	var out []string
	if resultsDir == "" || move {
		out = append(out, inboxRoot)
	}
	if resultsDir != "" {
		out = append(out, resultsDir)
	}
	if move {
		out = append(out, processedDir, failedDir)
	}
	return slices.Compact(out)
}
