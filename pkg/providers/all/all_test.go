package all_test

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookline/hookline/pkg/providers"
	"github.com/hookline/hookline/pkg/providers/all"
	"github.com/hookline/hookline/pkg/providers/petstore"
)

func TestRegistry(t *testing.T) {
	reg := all.Registry()
	if reg == nil {
		t.Fatal("the built-in registry does not build")
	}
	var names []string
	for _, p := range reg.All() {
		names = append(names, p.Name())
		if got, ok := reg.Lookup(p.Name()); !ok || got.Name() != p.Name() {
			t.Errorf("Lookup(%s) = %v, %t", p.Name(), got, ok)
		}
	}
	if strings.Join(names, ",") != "petstore,bunjang,shopify" {
		t.Errorf("All() = %v", names)
	}
	if _, ok := reg.Lookup("acme"); ok {
		t.Error("Lookup(acme) found a configured source's name")
	}
	if reg.For("acme") != reg.Source() || reg.Source().Name() != "standard" {
		t.Error("a source's name is not served by the Standard Webhooks provider")
	}
	if _, err := all.New(petstore.Provider{}); !errors.Is(err, providers.ErrDuplicate) {
		t.Errorf("registering petstore twice: %v", err)
	}
}

// Acceptance (issue 11): no switch or map keyed by a provider name outside the provider folders
// and the registry. Every non-test Go file of the repository outside pkg/providers is read for a
// provider name as a string literal (which is how a switch case, a map key or a comparison
// would name one).
func TestNoProviderNamesOutsideProviders(t *testing.T) {
	root := repoRoot(t)
	var names []string
	reg := all.Registry()
	for _, p := range append(reg.All(), reg.Source()) {
		names = append(names, regexp.QuoteMeta(p.Name()))
	}
	lit := regexp.MustCompile(`"(` + strings.Join(names, "|") + `)"` + "|`(" + strings.Join(names, "|") + ")`")
	providersDir := filepath.Join(root, "pkg", "providers") + string(filepath.Separator)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "node_modules" || n == "testdata" || n == "docs" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasPrefix(path, providersDir) {
			return nil
		}
		checked++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if i := strings.Index(line, "//"); i >= 0 && !strings.Contains(line[:i], `"`) {
				line = line[:i] // a comment may name a provider
			}
			if m := lit.FindString(line); m != "" {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d names provider %s: look it up in the registry instead", rel, n, m)
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d Go files checked under %s: wrong root?", checked, root)
	}
}

// repoRoot is the directory holding go.work, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the test")
		}
		dir = parent
	}
}
