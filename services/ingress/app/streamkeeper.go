package app

import (
	"context"
	"errors"
	"time"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// publisher is what the HTTP handlers publish through.
type publisher interface {
	Publish(ctx context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error)
}

// streamKeeper re-creates the streams when a publish finds no stream behind its subject: a NATS
// server that came back without its data, or a stream deleted by hand. Without it every request
// would get 503 until a restart.
type streamKeeper struct {
	publisher
	js   jetstream.JetStream
	opts streams.Options
	log  *zap.Logger
	kick chan struct{}
}

func newStreamKeeper(p publisher, js jetstream.JetStream, o streams.Options, log *zap.Logger) *streamKeeper {
	return &streamKeeper{publisher: p, js: js, opts: o, log: log, kick: make(chan struct{}, 1)}
}

// Publish publishes and, on "no stream", asks for the streams to be re-created. The caller still
// gets the error (a 503): the provider retries.
func (k *streamKeeper) Publish(ctx context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error) {
	ack, err := k.publisher.Publish(ctx, msg, msgID)
	if err != nil && (errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)) {
		k.kickStreams()
	}
	return ack, err
}

// kickStreams asks run to re-create the streams (the spool forwarder calls it too).
func (k *streamKeeper) kickStreams() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// run re-creates the streams on each kick, at most once a second, until ctx ends.
func (k *streamKeeper) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.kick:
		}
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := streams.Ensure(ectx, k.js, k.opts)
		cancel()
		if err != nil {
			k.log.Warn("re-creating streams failed", zap.Error(err))
		} else {
			k.log.Warn("a stream was missing; streams re-created")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
