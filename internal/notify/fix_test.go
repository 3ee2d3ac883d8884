package notify

import (
	"testing"

	"github.com/ppsync/ppsync/internal/errcode"
)

// TestFixForTakesTheCatalogue: a failure message tells the catalogue's fix
// for a code it knows (NOT_A_PDF matched none of the guesses before), and
// still guesses for a code it does not.
func TestFixForTakesTheCatalogue(t *testing.T) {
	for _, code := range []string{"NOT_A_PDF", "TOO_MANY_PAGES", "EXTRACTION_FAILED", "INSUFFICIENT_CREDITS", "HTTP_502"} {
		e, _ := errcode.Lookup(code)
		if got := fixFor(code); got != e.Fix {
			t.Errorf("fixFor(%s) = %q, want the catalogue's %q", code, got, e.Fix)
		}
	}
	if got := fixFor("INVALID_PDF"); got != "Export the file again as a valid PDF (or a supported image) and drop it again." {
		t.Errorf("fixFor(INVALID_PDF) = %q: an unknown code is still guessed from its words", got)
	}
}
