package spool

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The disk's floor under the spool: what one synced write costs on this machine, without bbolt.
// A bbolt commit is two of them (the dirty pages, then the meta page), so with a group of g
// records per commit the spool cannot pass g / (2 x the "page" figure) records per second.
//
//	go test -run '^$' -bench 'Fdatasync' ./internal/spool/
func BenchmarkFdatasync(b *testing.B) {
	tests := []struct {
		name  string
		pages int  // 4 KiB pages written before each sync
		grow  bool // append (the file grows: its size is metadata to sync) instead of overwrite
	}{
		{"page", 1, false},
		{"16pages", 16, false},
		{"append1KiB", 0, true},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "f"), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			page := make([]byte, 4096)
			if _, err := f.WriteAt(make([]byte, 64*4096), 0); err != nil { // allocated up front
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			var off int64 = 64 * 4096
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if tt.grow {
					if _, err := f.WriteAt(page[:1024], off); err != nil {
						b.Fatal(err)
					}
					off += 1024
				}
				for p := range tt.pages {
					page[0] = byte(i)
					if _, err := f.WriteAt(page, int64(p)*4096); err != nil {
						b.Fatal(err)
					}
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
