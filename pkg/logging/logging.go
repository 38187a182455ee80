// Package logging builds the zap JSON logger every service uses.
package logging

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a production JSON logger at level ("debug", "info", "warn", "error").
func New(level, service string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	cfg.Sampling = nil
	log, err := cfg.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	return log.With(zap.String("service", service)), nil
}

// KV adapts a zap logger to the small logging interfaces that packages without a zap
// dependency declare, such as consume.Logger: a message, then alternating keys and values.
type KV struct{ s *zap.SugaredLogger }

// NewKV returns log as a KV; the caller reported is the one calling Warn or Error.
func NewKV(log *zap.Logger) KV { return KV{s: log.WithOptions(zap.AddCallerSkip(1)).Sugar()} }

// Warn logs at warn level.
func (l KV) Warn(msg string, keysAndValues ...any) { l.s.Warnw(msg, keysAndValues...) }

// Error logs at error level.
func (l KV) Error(msg string, keysAndValues ...any) { l.s.Errorw(msg, keysAndValues...) }
