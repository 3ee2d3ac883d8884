package stageopts_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/stageopts"
)

func TestOptionsCarryEveryAPISetting(t *testing.T) {
	dir := t.TempDir()
	inbox := filepath.Join(dir, "in")
	if err := os.Mkdir(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "c.toml")
	cfg, err := config.Parse(file, []byte(`
[api]
base_url = "http://127.0.0.1:1"
api_key = "k"
requests_per_window = 100
submissions_per_window = 10
rate_window = "2m"
request_timeout = "7s"
[[inbox]]
path = "in"
parser_id = "prs"
`))
	if err != nil {
		t.Fatal(err)
	}
	o := stageopts.API(cfg, "secret")
	if o.BaseURL != "http://127.0.0.1:1" || o.APIKey != "secret" || o.RequestsPerWindow != 100 ||
		o.SubmissionsPerWindow != 10 || o.RateWindow != 2*time.Minute || o.RequestTimeout != 7*time.Second || o.UserAgent == "" {
		t.Fatalf("options lost a setting: %+v", o)
	}
	c, err := stageopts.NewClient(cfg, "secret", func(o *api.Options) { o.MaxRetries = 1 })
	if err != nil || c == nil {
		t.Fatalf("New: %v", err)
	}
}
