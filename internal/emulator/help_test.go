package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/apitypes"
)

var controlRoute = regexp.MustCompile(`"(GET|POST|PUT|PATCH|DELETE) (/_emulator/[^"]*)"`)

// The help names every control route registered in this package (read
// from its source, so a new one cannot be left out), and every route it
// names answers.
func TestHelpNamesEveryControlRoute(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	help := Help()
	routes := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range controlRoute.FindAllStringSubmatch(string(src), -1) {
			routes[m[2]] = m[1]
		}
	}
	if len(routes) < 2 {
		t.Fatalf("found only %v in the source", routes)
	}
	e := New(Options{APIKeys: []string{"k"}, TempDir: t.TempDir()})
	defer e.Close()
	srv := httptest.NewServer(e)
	defer srv.Close()
	for path, method := range routes {
		if !regexp.MustCompile(`(?m)^\s*` + method + `\s+` + regexp.QuoteMeta(path) + `\s`).MatchString(help) {
			t.Errorf("the help does not name %s %s", method, path)
		}
	}
	for _, m := range regexp.MustCompile(`(GET|POST)\s+(/_emulator/\S+)`).FindAllStringSubmatch(help, -1) {
		body := ""
		if m[1] == "POST" {
			body = `{"credits": 5}`
		}
		req, _ := http.NewRequest(m[1], srv.URL+m[2], strings.NewReader(body))
		req.Header.Set(apitypes.HeaderAPIKey, "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s (named in the help): %s", m[1], m[2], resp.Status)
		}
	}
}

// The help names every parser a new emulator knows, and every quirk.
func TestHelpNamesParsersAndQuirks(t *testing.T) {
	e := New(Options{APIKeys: []string{"k"}, TempDir: t.TempDir()})
	defer e.Close()
	srv := httptest.NewServer(e)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/parsers", nil)
	req.Header.Set(apitypes.HeaderAPIKey, "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list apitypes.ParserList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Parsers) == 0 {
		t.Fatalf("parsers: %v %+v", err, list)
	}
	help := Help()
	for _, p := range list.Parsers {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(p.ParserID) + `\s`).MatchString(help) {
			t.Errorf("the help does not name parser %s", p.ParserID)
		}
	}
	for _, q := range AllQuirks() {
		if !strings.Contains(help, string(q)) {
			t.Errorf("the help does not name quirk %s", q)
		}
	}
}
