package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk layout (version 2), as far as checkFile reads it: a page starts with a 16-byte
// header (id uint64, flags uint16, count uint16, overflow uint32), a meta page holds after it
// magic, version, page size, flags (uint32 each), the root bucket (root page, sequence), the
// freelist page, the high-water mark and the transaction id (uint64 each), then an FNV-64a of
// those 56 bytes; integers in the machine's byte order.
const (
	boltPageHeader  = 16
	boltMetaSum     = 56 // bytes the meta checksum covers
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltFreelistPg  = 0x10
	boltNoFreelist  = ^uint64(0)
	boltMetaMinRead = boltPageHeader + boltMetaSum + 8 // through the checksum
)

type boltMeta struct {
	pageSize, root, freelist, highWater, txid uint64
}

// readMeta reads the meta page at off; ok is false when it is missing or fails its checks.
func readMeta(f *os.File, off int64) (boltMeta, bool) {
	var b [boltMetaMinRead]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return boltMeta{}, false
	}
	m := b[boltPageHeader:]
	ne := binary.NativeEndian
	h := fnv.New64a()
	_, _ = h.Write(m[:boltMetaSum])
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion || ne.Uint64(m[boltMetaSum:]) != h.Sum64() {
		return boltMeta{}, false
	}
	pageSize := uint64(ne.Uint32(m[8:]))
	if pageSize < 512 || pageSize > 1<<20 {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: pageSize, root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]),
		highWater: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, true
}

// checkFile checks, before bbolt maps the file, what bbolt itself trusts when it opens one (it
// panics, or reads past the end, on a file cut short below its last commit): the file holds
// every page up to the newest valid meta page's high-water mark, and that meta's freelist page
// is a freelist page. A file without a valid meta page is left to bbolt, which reports it.
func checkFile(path string, fileSize int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("spool %s: %w", path, err)
	}
	defer f.Close()
	m0, ok0 := readMeta(f, 0)
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, pageSize)
	if ok1 && !ok0 {
		pageSize = int64(m1.pageSize)
	}
	var m boltMeta
	switch {
	case ok0 && (!ok1 || m0.txid >= m1.txid):
		m = m0
	case ok1:
		m = m1
	default:
		return nil
	}
	if m.pageSize != uint64(pageSize) {
		return fmt.Errorf("%w: %s: meta pages disagree on the page size", ErrCorrupt, path)
	}
	if m.highWater > uint64(fileSize)/m.pageSize {
		return fmt.Errorf("%w: %s: truncated: %d bytes, the last commit needs %d", ErrCorrupt, path,
			fileSize, m.highWater*m.pageSize)
	}
	if m.root >= m.highWater || (m.freelist != boltNoFreelist && m.freelist >= m.highWater) {
		return fmt.Errorf("%w: %s: meta page points past the last page", ErrCorrupt, path)
	}
	if m.freelist != boltNoFreelist {
		var hdr [boltPageHeader]byte
		if _, err := f.ReadAt(hdr[:], int64(m.freelist)*pageSize); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("spool %s: %w", path, err)
		}
		if id, flags := binary.NativeEndian.Uint64(hdr[0:]), binary.NativeEndian.Uint16(hdr[8:]); id != m.freelist || flags != boltFreelistPg {
			return fmt.Errorf("%w: %s: freelist page %d is damaged", ErrCorrupt, path, m.freelist)
		}
	}
	return nil
}
