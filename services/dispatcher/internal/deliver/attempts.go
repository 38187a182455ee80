package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Record is what the dispatcher remembers about a callback between attempts.
type Record struct {
	// Attempts is how many HTTP attempts were made (deferrals and redeliveries do not count).
	Attempts   int    `json:"attempts"`
	LastStatus int    `json:"lastStatus,omitempty"`
	LastError  string `json:"lastError,omitempty"`
}

// AttemptStore keeps a Record per CALLBACKS stream sequence, surviving dispatcher restarts.
type AttemptStore interface {
	// Load returns the record for seq, or a zero Record when there is none.
	Load(ctx context.Context, seq uint64) (Record, error)
	Save(ctx context.Context, seq uint64, r Record) error
	Delete(ctx context.Context, seq uint64) error
}

// KVStore is an AttemptStore in a JetStream key-value bucket.
type KVStore struct{ kv jetstream.KeyValue }

var _ AttemptStore = (*KVStore)(nil)

// AttemptsBucket is the key-value bucket that holds attempt records.
const AttemptsBucket = "hookline_callback_attempts"

// EnsureKVStore creates or updates the bucket. ttl bounds how long a record is kept (0: forever);
// it must outlive a callback's whole retry schedule.
func EnsureKVStore(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration) (*KVStore, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      AttemptsBucket,
		Description: "Hookline dispatcher: HTTP attempts made per CALLBACKS sequence",
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", AttemptsBucket, err)
	}
	return &KVStore{kv: kv}, nil
}

// Load implements AttemptStore.
func (s *KVStore) Load(ctx context.Context, seq uint64) (Record, error) {
	e, err := s.kv.Get(ctx, strconv.FormatUint(seq, 10))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("load attempts of %d: %w", seq, err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Record{}, fmt.Errorf("decode attempts of %d: %w", seq, err)
	}
	return r, nil
}

// Save implements AttemptStore.
func (s *KVStore) Save(ctx context.Context, seq uint64, r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode attempts of %d: %w", seq, err)
	}
	if _, err := s.kv.Put(ctx, strconv.FormatUint(seq, 10), b); err != nil {
		return fmt.Errorf("save attempts of %d: %w", seq, err)
	}
	return nil
}

// Delete implements AttemptStore.
func (s *KVStore) Delete(ctx context.Context, seq uint64) error {
	if err := s.kv.Delete(ctx, strconv.FormatUint(seq, 10)); err != nil {
		return fmt.Errorf("delete attempts of %d: %w", seq, err)
	}
	return nil
}
