package callbacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/hookline/hookline/pkg/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// RequestStore remembers accepted requests by key (streams.CallbackRequestKey). Create must fail
// with jetstream.ErrKeyExists when the key is present, atomically; Update with a revision fails
// when the key changed since. BucketStore fits.
type RequestStore interface {
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error)
	Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error
}

var _ RequestStore = (*BucketStore)(nil)

// record is a bucket value.
type record struct {
	ID     string `json:"id"`     // the eventId answered
	Hash   string `json:"hash"`   // requestHash of the fields that make the request
	Stored bool   `json:"stored"` // the CALLBACKS message was acknowledged
}

// requestHash covers what a conflicting request may change: amount (as carried), currency and
// callbackUrl. Length-prefixed so no two field lists collide.
func requestHash(amount, currency, callbackURL string) string {
	h := sha256.New()
	for _, f := range []string{amount, currency, callbackURL} {
		_, _ = fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// BucketStore is a RequestStore over the streams.CallbackRequests bucket, created or updated to
// streams.CallbackRequestsConfig(o) on first use (so a NATS server that starts after the ingress,
// or one that lost its data, is handled on the next request).
type BucketStore struct {
	js jetstream.JetStream
	o  streams.Options

	mu sync.Mutex
	kv jetstream.KeyValue
}

// NewBucketStore returns a store that binds the bucket lazily.
func NewBucketStore(js jetstream.JetStream, o streams.Options) *BucketStore {
	return &BucketStore{js: js, o: o}
}

func (b *BucketStore) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kv != nil {
		return b.kv, nil
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, streams.CallbackRequestsConfig(b.o))
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", streams.CallbackRequests, err)
	}
	b.kv = kv
	return kv, nil
}

// forget drops the cached bucket after it was found missing, so the next call re-creates it.
func (b *BucketStore) forget(err error) {
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) {
		b.mu.Lock()
		b.kv = nil
		b.mu.Unlock()
	}
}

// Create implements RequestStore.
func (b *BucketStore) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	kv, err := b.bucket(ctx)
	if err != nil {
		return 0, err
	}
	rev, err := kv.Create(ctx, key, value)
	b.forget(err)
	return rev, err
}

// Get implements RequestStore.
func (b *BucketStore) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	kv, err := b.bucket(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, key)
	b.forget(err)
	return e, err
}

// Update implements RequestStore.
func (b *BucketStore) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	kv, err := b.bucket(ctx)
	if err != nil {
		return 0, err
	}
	rev, err := kv.Update(ctx, key, value, revision)
	b.forget(err)
	return rev, err
}

// Delete implements RequestStore.
func (b *BucketStore) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	kv, err := b.bucket(ctx)
	if err != nil {
		return err
	}
	err = kv.Delete(ctx, key, opts...)
	b.forget(err)
	return err
}

// errConflict: the key holds another request.
var errConflict = errors.New("another request holds this order id and timestamp")

// reservation is the outcome of reserve.
type reservation struct {
	rev     uint64 // the revision of the record this request created or read
	created bool   // this request created the record
	stored  bool   // an identical request is already stored: answer 201, publish nothing
}

// reserve claims key for a request with hash h and id, or finds it claimed: by the same request
// (stored, or still being published by a concurrent or failed attempt, which this one then
// completes), or by another (errConflict).
func reserve(ctx context.Context, s RequestStore, key, id, h string) (reservation, error) {
	val, err := json.Marshal(record{ID: id, Hash: h})
	if err != nil {
		return reservation{}, fmt.Errorf("encode request record: %w", err)
	}
	for range 3 {
		rev, err := s.Create(ctx, key, val)
		if err == nil {
			return reservation{rev: rev, created: true}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return reservation{}, fmt.Errorf("reserve request: %w", err)
		}
		e, err := s.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted (a failed attempt) between Create and Get: try again
		}
		if err != nil {
			return reservation{}, fmt.Errorf("read request record: %w", err)
		}
		var r record
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return reservation{}, fmt.Errorf("decode request record: %w", err)
		}
		if r.Hash != h {
			return reservation{}, errConflict
		}
		return reservation{rev: e.Revision(), stored: r.Stored}, nil
	}
	return reservation{}, fmt.Errorf("reserve request: %w", jetstream.ErrKeyExists)
}

// markStored records that the request is stored. It only replaces the revision this request
// reserved or read, so it never overwrites a record of another request; a record deleted
// meanwhile (a concurrent identical attempt that failed) is created again.
func markStored(ctx context.Context, s RequestStore, key, id, h string, rev uint64) error {
	val, err := json.Marshal(record{ID: id, Hash: h, Stored: true})
	if err != nil {
		return fmt.Errorf("encode request record: %w", err)
	}
	if _, err = s.Update(ctx, key, val, rev); err == nil {
		return nil
	}
	if _, cerr := s.Create(ctx, key, val); cerr == nil || errors.Is(cerr, jetstream.ErrKeyExists) {
		return nil // re-created, or held by an identical attempt that completes it
	}
	return fmt.Errorf("mark request stored: %w", err)
}
