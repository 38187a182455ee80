// Package proxy writes modules into a file-based GOPROXY directory.
package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

// ErrVersion: the version is not a canonical semantic version.
var ErrVersion = errors.New("not a canonical semantic version")

// Write publishes the module in dir at version into the proxy directory out and returns the
// module path.
func Write(out, dir, version string) (string, error) {
	if version == "" || semver.Canonical(version) != version {
		return "", fmt.Errorf("%w: %q", ErrVersion, version)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	path := modfile.ModulePath(gomod)
	if path == "" {
		return "", fmt.Errorf("%s/go.mod: no module path", dir)
	}
	mv := module.Version{Path: path, Version: version}
	escaped, err := module.EscapePath(path)
	if err != nil {
		return "", fmt.Errorf("escape %s: %w", path, err)
	}
	vdir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", fmt.Errorf("proxy dir: %w", err)
	}
	if err := writeZip(filepath.Join(vdir, version+".zip"), dir, mv); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".mod"), gomod, 0o644); err != nil {
		return "", fmt.Errorf("write .mod: %w", err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return "", fmt.Errorf("encode .info: %w", err)
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".info"), info, 0o644); err != nil {
		return "", fmt.Errorf("write .info: %w", err)
	}
	list, err := os.OpenFile(filepath.Join(vdir, "list"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("open list: %w", err)
	}
	if _, err := fmt.Fprintln(list, version); err != nil {
		_ = list.Close()
		return "", fmt.Errorf("write list: %w", err)
	}
	if err := list.Close(); err != nil {
		return "", fmt.Errorf("close list: %w", err)
	}
	return path, nil
}

func writeZip(name, dir string, mv module.Version) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("create zip: %w", err)
	}
	if err := zip.CreateFromDir(f, mv, dir); err != nil {
		_ = f.Close()
		return fmt.Errorf("zip %s: %w", mv, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close zip: %w", err)
	}
	return nil
}
