package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/hookline/hookline/pkg/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const secretValue = "s3cr3t-VALUE"

// leaks reports whether out shows the secret in any form fmt could render its bytes.
func leaks(out string) bool {
	b := []byte(secretValue)
	for _, form := range []string{
		secretValue,
		fmt.Sprintf("%x", b),
		fmt.Sprintf("%X", b),
		fmt.Sprintf("%d", b)[1 : len(fmt.Sprintf("%d", b))-1], // "115 51 ..." without brackets
		fmt.Sprintf("%#v", b),
		"115, 0x33", // part of a %#v of the byte slice
	} {
		if strings.Contains(out, form) {
			return true
		}
	}
	return false
}

func TestSecretNeverFormatted(t *testing.T) {
	s := config.NewSecret([]byte(secretValue))
	holder := struct {
		Name   string
		Secret config.Secret
		List   []config.Secret
		Ptr    *config.Secret
	}{"x", s, []config.Secret{s, s}, &s}
	provider := config.Provider{Secrets: []config.Secret{s}}
	cfg := config.Config{JWTSecret: s, CallbackSecret: s}

	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%o", "%b", "%c", "%U", "%e", "%T %v", "%10.3s", "%-v", "%08v"} {
		for name, val := range map[string]any{
			"value": s, "pointer": &s, "struct": holder, "struct pointer": &holder,
			"provider": provider, "config": cfg, "slice": []config.Secret{s},
		} {
			out := fmt.Sprintf(verb, val)
			if strings.HasPrefix(verb, "%T") {
				out = fmt.Sprintf(verb, val, val)
			}
			if leaks(out) {
				t.Errorf("fmt %s of %s leaks the secret: %s", verb, name, out)
			}
		}
	}
	if got := fmt.Sprint(s); got != "[redacted]" {
		t.Errorf("fmt.Sprint = %q, want [redacted]", got)
	}
	if got := fmt.Sprintf("%#v", s); got != "[redacted]" {
		t.Errorf("%%#v = %q, want [redacted]", got)
	}
	if string(s.Bytes()) != secretValue {
		t.Error("Bytes does not return the key material")
	}
}

func TestSecretNeverLoggedByZap(t *testing.T) {
	s := config.NewSecret([]byte(secretValue))
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel))
	log.Info("secrets",
		zap.Any("value", s),
		zap.Any("pointer", &s),
		zap.Any("slice", []config.Secret{s}),
		zap.Any("provider", config.Provider{Secrets: []config.Secret{s}}),
		zap.Any("config", config.Config{JWTSecret: s}),
		zap.Stringer("stringer", s),
		zap.Reflect("reflect", s),
	)
	_ = log.Sync()
	out := buf.String()
	if !strings.Contains(out, "[redacted]") {
		t.Fatalf("log line %s has no [redacted] marker", out)
	}
	if leaks(out) {
		t.Fatalf("log line leaks the secret: %s", out)
	}
	// Also through a console encoder.
	buf.Reset()
	log = zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&buf), zapcore.DebugLevel))
	log.Info("secrets", zap.Any("value", s), zap.Any("provider", config.Provider{Secrets: []config.Secret{s}}))
	if out := buf.String(); leaks(out) {
		t.Fatalf("console log line leaks the secret: %s", out)
	}
}

func TestSecretJSON(t *testing.T) {
	s := config.NewSecret([]byte(secretValue))
	out, err := json.Marshal(map[string]any{"s": s, "p": config.Provider{Secrets: []config.Secret{s}}})
	if err != nil {
		t.Fatal(err)
	}
	if leaks(string(out)) || !strings.Contains(string(out), "[redacted]") {
		t.Fatalf("json = %s", out)
	}
}

func TestSecretIsZero(t *testing.T) {
	if !(config.Secret{}).IsZero() || !config.NewSecret(nil).IsZero() || config.NewSecret([]byte("x")).IsZero() {
		t.Fatal("IsZero is wrong")
	}
}

func TestResolveSecret(t *testing.T) {
	file := writeFile(t, "secret", "from-file\n\n")
	crlf := writeFile(t, "crlf", "crlf-secret\r\n")
	inner := writeFile(t, "inner", " spaced \n")
	empty := writeFile(t, "empty", "\r\n")
	lookup := env{"SET": "from-env", "EMPTY": ""}.lookup
	tests := []struct {
		give    string
		want    string
		wantErr error // nil: no error expected unless wantAnyErr
		anyErr  bool
	}{
		{give: "plain", want: "plain"},
		{give: "env:SET", want: "from-env"},
		{give: "file:" + file, want: "from-file"},
		{give: "file:" + crlf, want: "crlf-secret"},
		{give: "file:" + inner, want: " spaced "},
		{give: "envx:SET", want: "envx:SET"},
		{give: "env:UNSET", anyErr: true},
		{give: "env:EMPTY", anyErr: true},
		{give: "env:", anyErr: true},
		{give: "file:/nonexistent/x", wantErr: fs.ErrNotExist},
		{give: "file:" + empty, anyErr: true},
		{give: "", anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := config.ResolveSecret(tt.give, lookup)
			if tt.wantErr != nil || tt.anyErr {
				if err == nil {
					t.Fatalf("ResolveSecret(%q) = %q, want an error", tt.give, got.Bytes())
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("ResolveSecret(%q) error %v, want %v", tt.give, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "from-env") {
					t.Fatalf("error %q leaks a value", err)
				}
				return
			}
			if err != nil || string(got.Bytes()) != tt.want {
				t.Fatalf("ResolveSecret(%q) = %q, %v; want %q", tt.give, got.Bytes(), err, tt.want)
			}
		})
	}
}
