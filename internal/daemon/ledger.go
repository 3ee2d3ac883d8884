package daemon

import (
	"context"
	"log/slog"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/ledger"
	"github.com/ppsync/ppsync/internal/stageopts"
)

// Parsers is what the ledgers need from the API client (ledger.Parsers).
type Parsers = ledger.Parsers

// LedgerRebuilt is what RebuildLedgers did for one inbox.
type LedgerRebuilt = ledger.Rebuilt

// RebuildLedgers regenerates the ledger of every inbox of cfg that has one
// from its result files (ledger.RebuildAll).
func RebuildLedgers(ctx context.Context, cfg *config.Config, api Parsers, log *slog.Logger) ([]LedgerRebuilt, error) {
	return ledger.RebuildAll(ctx, stageopts.Ledgers(cfg.Inboxes), api, log)
}

// RebuildLedgersAnswer is RebuildLedgers answered as control says it: the
// running daemon and the offline implementation both rebuild through it.
func RebuildLedgersAnswer(ctx context.Context, cfg *config.Config, api Parsers, log *slog.Logger) (control.RebuildAnswer, error) {
	done, err := RebuildLedgers(ctx, cfg, api, log)
	return ledger.Answer(done, err), err
}

// ledgerSink is the finish stage's sink for the ledgers.
type ledgerSink struct{ b *ledger.Books }

func (s ledgerSink) Written(_ context.Context, w finish.Written) {
	s.b.Written(w.Inbox, w.File.Path, w.Output, w.Document != nil)
}

// sinks tells each sink in turn.
type sinks []finish.Sink

func (s sinks) Written(ctx context.Context, w finish.Written) {
	for _, k := range s {
		if k != nil {
			k.Written(ctx, w)
		}
	}
}
