package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A spool file cut at any length opens with every record or is refused with ErrCorrupt: never a
// panic, never fewer records. Below the last commit's high-water mark bbolt would map pages that
// are not there; checkFile refuses those before bbolt opens the file.
func TestOpenTruncatedAnywhere(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	const n = 300
	for i := range n {
		m, id := testMsg(i)
		m.Data = append(m.Data, make([]byte, 300)...)
		if err := s.Put(m, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	var cuts []int64
	for c := int64(0); c < int64(len(orig)); c += page / 2 {
		cuts = append(cuts, c+1, c+page/2-1)
	}
	refused := 0
	for _, cut := range cuts {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, FileName), orig[:min(cut, int64(len(orig)))], 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(d, Options{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("cut at %d of %d: Open = %v, want ErrCorrupt", cut, len(orig), err)
			}
			refused++
			continue
		}
		got := r.Messages()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Fatalf("cut at %d of %d: opened with %d records, want %d or ErrCorrupt", cut, len(orig), got, n)
		}
	}
	if refused == 0 {
		t.Fatalf("no cut of %d refused", len(cuts))
	}
}
