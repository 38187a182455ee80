package app

import (
	"fmt"

	"github.com/hookline/hookline/services/ingress/internal/publish"
	"github.com/hookline/hookline/services/ingress/internal/spool"
	"go.uber.org/zap"
)

// natsDefaultMaxPayload is nats-server's default max_payload, the body limit's basis when the
// spool lets the ingress start before NATS was ever reached.
const natsDefaultMaxPayload = 1 << 20

// openSpool opens HOOKLINE_SPOOL_DIR's spool, or returns nil when it is off. A damaged spool
// file is an error naming it: the ingress refuses to start rather than drop what it holds.
func openSpool(cfg Config, log *zap.Logger) (*spool.Spool, error) {
	if cfg.SpoolDir == "" {
		return nil, nil //nolint:nilnil // a nil spool is "off"; its methods pass through
	}
	sp, err := spool.Open(cfg.SpoolDir, spool.Options{MaxBytes: cfg.SpoolMaxBytes})
	if err != nil {
		return nil, fmt.Errorf("HOOKLINE_SPOOL_DIR: %w", err)
	}
	log.Info("outage spool on", zap.String("file", sp.Path()), zap.Int64("messages", sp.Messages()),
		zap.Int64("bytes", sp.Bytes()), zap.Int64("max_bytes", sp.MaxBytes()))
	return sp, nil
}

// maxPayload is the connected server's max_payload, or with the spool on and NATS not reached
// yet, nats-server's default.
func maxPayload(sp *spool.Spool, pub *publish.Publisher) int64 {
	if mp := pub.MaxPayload(); mp > 0 || sp == nil {
		return mp
	}
	return natsDefaultMaxPayload
}
