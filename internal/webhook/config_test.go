package webhook_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/webhook"
)

// OptionsFor carries every [webhook] setting and the polling interval,
// and Wait only for a --once run.
func TestOptionsForCarriesEverySetting(t *testing.T) {
	cfg := &config.Config{
		Webhook: config.Webhook{Enabled: true, Listen: "127.0.0.1:8090", PublicURL: "https://hooks.example.com/pp", Events: []string{"job.completed"},
			Secret: "s3cret", TLSCert: "/etc/c.pem", TLSKey: "/etc/k.pem", PollInterval: config.Duration{Duration: 10 * time.Minute},
			MaxBody: config.Size{Bytes: 1 << 20}},
		Poll: config.Poll{Interval: config.Duration{Duration: 5 * time.Second}},
	}
	want := webhook.KeeperOptions{Enabled: true, Listen: "127.0.0.1:8090", PublicURL: "https://hooks.example.com/pp", Events: []string{"job.completed"},
		Secret: "s3cret", TLSCert: "/etc/c.pem", TLSKey: "/etc/k.pem", PollInterval: 10 * time.Minute, MaxBody: 1 << 20, Polling: 5 * time.Second}
	for _, once := range []bool{false, true} {
		want.Wait = once
		if got := webhook.OptionsFor(cfg, once); !reflect.DeepEqual(got, want) {
			t.Errorf("once %v:\n%+v\nwant\n%+v", once, got, want)
		}
	}
}
