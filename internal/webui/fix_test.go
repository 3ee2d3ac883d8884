package webui

import (
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/errcode"
)

// TestFixFromTheCatalogue: every code of the catalogue is explained on the
// page as the catalogue says (codes the page's own table once lacked, such
// as TOO_MANY_PAGES, included); an unknown code gets the general answer with
// its reason.
func TestFixFromTheCatalogue(t *testing.T) {
	for _, e := range errcode.All() {
		code := e.Code
		if code == errcode.HTTPStatus {
			code = "HTTP_502"
		}
		got := fixFor(strings.ToLower(code), "the reason", true)
		if got.Problem != e.Meaning || got.Action != e.Fix || got.Retry != e.Retry {
			t.Errorf("fixFor(%s) = %+v, want the catalogue's %+v", code, got, e)
		}
	}
	if got := fixFor("NO_SUCH_CODE", "the reason", false); !strings.Contains(got.Problem, "the reason") || !got.Retry {
		t.Errorf("unknown code: %+v", got)
	}
	if got := fixFor("", "not sent", true); !strings.Contains(got.Problem, "did not send") {
		t.Errorf("refused without a code: %+v", got)
	}
}
