// Package spool is the ingress's outage spool (contract section 10): when JetStream does not
// acknowledge a message in time, the message is written to a local bbolt file and synced to disk
// before the request is answered; a forwarder publishes the spooled messages to JetStream in
// arrival order (same subject, headers and Nats-Msg-Id) and removes each only after its PubAck.
//
// Writes are group-committed: concurrent Puts share one bbolt transaction (one fsync), and each
// Put returns only after the transaction holding its own record has been committed and synced.
//
// Every record carries a CRC-32C of its bytes (bbolt checksums its meta pages, not values), and
// Open verifies the file's size against the last committed page (before bbolt maps it: bbolt
// faults on a file cut short), its structure, and every record: a corrupted or truncated spool
// is an error naming the file, never silently dropped. The record format is in record.go.
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the spool file inside HOOKLINE_SPOOL_DIR.
const FileName = "spool.db"

// DefaultMaxBytes is HOOKLINE_SPOOL_MAX_BYTES's default (1 GiB).
const DefaultMaxBytes = 1 << 30

var (
	// ErrFull means the spool holds its maximum: the caller answers 503 with Retry-After.
	ErrFull = errors.New("spool full")
	// ErrCorrupt means the spool file is damaged or truncated; it is left as found.
	ErrCorrupt = errors.New("spool file corrupted")
	// ErrClosed means the spool was closed.
	ErrClosed = errors.New("spool closed")
)

var msgsBucket = []byte("msgs")

// maxGroup caps the records one transaction commits.
const maxGroup = 1024

// Options tune a spool.
type Options struct {
	// MaxBytes bounds the spooled records (keys and values); default DefaultMaxBytes. The file
	// itself may be larger (bbolt pages and free pages are reused, never returned).
	MaxBytes int64
	// Now is the clock for SpooledAt; nil means time.Now.
	Now func() time.Time
}

// Spool is an open spool. A nil *Spool is a spool that is off: its methods pass through.
type Spool struct {
	db       *bolt.DB
	path     string
	maxBytes int64
	now      func() time.Time

	bytes    atomic.Int64  // bytes held and reserved by Puts in flight
	count    atomic.Int64  // records held
	commits  atomic.Int64  // transactions the commit loop made (hookline_spool_commits_total)
	refused  atomic.Bool   // a Put was refused for room since the last removal
	puts     chan putReq   // unbuffered: a Put is either taken by the commit loop or refused
	kick     chan struct{} // a record was added: wakes the forwarder
	closing  chan struct{}
	loopDone chan struct{}
	once     sync.Once
}

type putReq struct {
	val  []byte
	done chan error
}

// Open opens (or creates) the spool in dir and checks it. A damaged file wraps ErrCorrupt and
// names the file; the file is left untouched for inspection.
func Open(dir string, o Options) (*Spool, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	var fileSize int64
	if fi, err := os.Stat(path); err == nil {
		fileSize = fi.Size()
	}
	if fileSize > 0 {
		if err := checkFile(path, fileSize); err != nil {
			return nil, err
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("spool %s: locked by another process: %w", path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case err != nil && fileSize > 0:
		// bbolt reports a file cut below its first pages with an untyped error.
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case err != nil:
		return nil, fmt.Errorf("spool %s: %w", path, err)
	}
	s := &Spool{db: db, path: path, maxBytes: o.MaxBytes, now: o.Now, puts: make(chan putReq),
		kick: make(chan struct{}, 1), closing: make(chan struct{}), loopDone: make(chan struct{})}
	if err := s.load(fileSize); err != nil {
		_ = db.Close() // the load error is the one to report
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// load verifies the file and counts what it holds.
func (s *Spool) load(fileSize int64) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if fileSize > 0 && tx.Size() > fileSize {
			return fmt.Errorf("%w: %s: truncated: %d bytes, the last commit needs %d", ErrCorrupt, s.path, fileSize, tx.Size())
		}
		var first error
		for cerr := range tx.Check() { // read to the end: the checker's goroutine sends them all
			if first == nil {
				first = fmt.Errorf("%w: %s: %w", ErrCorrupt, s.path, cerr)
			}
		}
		if first != nil {
			return first
		}
		b, err := tx.CreateBucketIfNotExists(msgsBucket)
		if err != nil {
			return fmt.Errorf("spool %s: %w", s.path, err)
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("%w: %s: key %x is not a sequence", ErrCorrupt, s.path, k)
			}
			if _, err := decode(v); err != nil {
				return fmt.Errorf("%w: %s: record %d: %w", ErrCorrupt, s.path, binary.BigEndian.Uint64(k), err)
			}
			s.count.Add(1)
			s.bytes.Add(int64(len(k) + len(v)))
			return nil
		})
	})
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("spool %s: %w", s.path, err)
	}
	return err
}

// Path is the spool file.
func (s *Spool) Path() string { return s.path }

// Messages is the number of records held.
func (s *Spool) Messages() int64 {
	if s == nil {
		return 0
	}
	return s.count.Load()
}

// Bytes is the size of the records held (and of those being written).
func (s *Spool) Bytes() int64 {
	if s == nil {
		return 0
	}
	return s.bytes.Load()
}

// MaxBytes is the bound.
func (s *Spool) MaxBytes() int64 { return s.maxBytes }

// Accepting reports whether the spool takes records: not closed, under its bound, and no Put
// refused for room since the last forwarded record was removed.
func (s *Spool) Accepting() bool {
	select {
	case <-s.closing:
		return false
	default:
	}
	return !s.refused.Load() && s.bytes.Load() < s.maxBytes
}

// Put writes msg with its Nats-Msg-Id and returns once the record is synced to disk. A spool
// over MaxBytes returns ErrFull and writes nothing.
func (s *Spool) Put(msg *nats.Msg, msgID string) error {
	val, err := encode(&record{Subject: msg.Subject, MsgID: msgID, Header: msg.Header, Data: msg.Data, SpooledAt: s.now().UTC()})
	if err != nil {
		return err
	}
	size := int64(8 + len(val))
	if s.bytes.Add(size) > s.maxBytes {
		s.bytes.Add(-size)
		s.refused.Store(true)
		return fmt.Errorf("%w: %d of %d bytes held", ErrFull, s.bytes.Load(), s.maxBytes)
	}
	req := putReq{val: val, done: make(chan error, 1)}
	select {
	case s.puts <- req:
	case <-s.closing:
		s.bytes.Add(-size)
		return ErrClosed
	}
	if err := <-req.done; err != nil { // the commit loop answers every request it took
		s.bytes.Add(-size)
		return err
	}
	return nil
}

// commitLoop writes queued Puts, as many as are waiting (up to maxGroup), in one synced
// transaction, and answers each after the commit. It adds no delay: a lone Put is committed at
// once, and the Puts that arrive meanwhile form the next group.
func (s *Spool) commitLoop() {
	defer close(s.loopDone)
	group := make([]putReq, 0, maxGroup)
	for {
		group = group[:0]
		select {
		case r := <-s.puts:
			group = append(group, r)
		case <-s.closing:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-s.puts:
				group = append(group, r)
			default:
				break more
			}
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(msgsBucket)
			b.FillPercent = 0.95 // keys only ever grow: pack the pages
			for _, r := range group {
				seq, err := b.NextSequence()
				if err != nil {
					return err
				}
				if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), r.val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			err = fmt.Errorf("spool write %s: %w", s.path, err)
		} else {
			s.count.Add(int64(len(group)))
			s.commits.Add(1)
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		for _, r := range group {
			r.done <- err
		}
	}
}

// item is a record read back for forwarding.
type item struct {
	key  []byte
	size int64
	rec  *record
}

// oldest returns up to n records in arrival order.
func (s *Spool) oldest(n int) ([]item, error) {
	var items []item
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(msgsBucket).Cursor()
		for k, v := c.First(); k != nil && len(items) < n; k, v = c.Next() {
			rec, err := decode(v)
			if err != nil {
				return fmt.Errorf("%w: %s: record %d: %w", ErrCorrupt, s.path, binary.BigEndian.Uint64(k), err)
			}
			items = append(items, item{key: append([]byte(nil), k...), size: int64(len(k) + len(v)), rec: rec})
		}
		return nil
	})
	return items, err
}

// remove deletes forwarded records in one synced transaction.
func (s *Spool) remove(items []item) error {
	if len(items) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(msgsBucket)
		for _, it := range items {
			if err := b.Delete(it.key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("spool remove %s: %w", s.path, err)
	}
	var size int64
	for _, it := range items {
		size += it.size
	}
	s.count.Add(-int64(len(items)))
	s.bytes.Add(-size)
	s.refused.Store(false)
	return nil
}

// Close stops taking Puts (those waiting get ErrClosed; those taken are committed first) and
// closes the file. The forwarder must have returned.
func (s *Spool) Close() error {
	if s == nil {
		return nil
	}
	var err error
	s.once.Do(func() {
		close(s.closing)
		<-s.loopDone
		if cerr := s.db.Close(); cerr != nil {
			err = fmt.Errorf("close spool %s: %w", s.path, cerr)
		}
	})
	return err
}

// wait blocks until a record is added, d passes, or ctx ends.
func (s *Spool) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.kick:
	case <-t.C:
	}
}
