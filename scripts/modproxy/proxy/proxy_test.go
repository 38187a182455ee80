package proxy_test

import (
	"archive/zip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/scripts/modproxy/proxy"
)

// TestWrite publishes a module with a nested module and checks the proxy files: the nested
// module stays out of the zip, like in a zip made from a tag.
func TestWrite(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"go.mod":        "module example.com/Lib\n\ngo 1.25.0\n",
		"lib.go":        "package lib\n",
		"sub/go.mod":    "module example.com/Lib/sub\n\ngo 1.25.0\n",
		"sub/sub.go":    "package sub\n",
		"inner/more.go": "package inner\n",
	}
	for name, body := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	path, err := proxy.Write(out, src, "v0.1.0")
	if err != nil || path != "example.com/Lib" {
		t.Fatalf("Write = %q, %v; want example.com/Lib", path, err)
	}
	vdir := filepath.Join(out, "example.com", "!lib", "@v") // upper case is escaped
	if b, err := os.ReadFile(filepath.Join(vdir, "list")); err != nil || string(b) != "v0.1.0\n" {
		t.Errorf("list %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(vdir, "v0.1.0.mod")); err != nil || string(b) != files["go.mod"] {
		t.Errorf(".mod %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(vdir, "v0.1.0.info")); err != nil || !strings.Contains(string(b), `"Version":"v0.1.0"`) {
		t.Errorf(".info %q, %v", b, err)
	}
	zr, err := zip.OpenReader(filepath.Join(vdir, "v0.1.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := "example.com/Lib@v0.1.0/" // zip entries are not escaped
	got := strings.Join(names, ",")
	for _, n := range []string{want + "go.mod", want + "lib.go", want + "inner/more.go"} {
		if !strings.Contains(got, n) {
			t.Errorf("zip %s lacks %s", got, n)
		}
	}
	if strings.Contains(got, "sub/") {
		t.Errorf("zip %s holds the nested module", got)
	}
}

func TestWriteRejectsVersion(t *testing.T) {
	for _, give := range []string{"v0.1", "0.1.0", "v0.1.0+meta", ""} {
		if _, err := proxy.Write(t.TempDir(), t.TempDir(), give); !errors.Is(err, proxy.ErrVersion) {
			t.Errorf("Write(version %q) error %v, want ErrVersion", give, err)
		}
	}
}
