package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookline/hookline/pkg/config"
	"github.com/hookline/hookline/services/ingress/internal/spool"
)

// Contract section 10: HOOKLINE_SPOOL_MAX_BYTES is a number of bytes, default 1 GiB. A small
// bound is valid (it is how an operator or a test fills the spool on purpose); what is not a
// positive number of bytes is a start-up error naming the setting.
func TestLoadConfigSpoolMaxBytes(t *testing.T) {
	tests := []struct {
		name    string
		give    string // "" leaves the variable unset
		want    int64
		wantErr bool
	}{
		{name: "default", want: spool.DefaultMaxBytes},
		{name: "1 GiB spelled out", give: "1073741824", want: 1 << 30},
		{name: "small bound", give: "1024", want: 1024},
		{name: "one byte", give: "1", want: 1},
		{name: "zero", give: "0", wantErr: true},
		{name: "negative", give: "-5", wantErr: true},
		{name: "with a unit", give: "1GiB", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOOKLINE_SPOOL_DIR": t.TempDir()}
			if tt.give != "" {
				env["HOOKLINE_SPOOL_MAX_BYTES"] = tt.give
			}
			cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if tt.wantErr {
				if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "HOOKLINE_SPOOL_MAX_BYTES") {
					t.Fatalf("LoadConfig = %v, want an error naming HOOKLINE_SPOOL_MAX_BYTES", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if cfg.SpoolMaxBytes != tt.want {
				t.Fatalf("SpoolMaxBytes = %d, want %d", cfg.SpoolMaxBytes, tt.want)
			}
		})
	}
}
