package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// repoPrefix is the module path prefix of every module in this repository.
const repoPrefix = "github.com/hookline/hookline/"

// TestGoModsAreFetchable fails when a go.mod of the repository gets a replace directive or
// requires another module of the repository at a v0.0.0 (pseudo-)version: either one makes
// the module impossible to fetch for another team (issue 11). Development ties the modules with
// go.work instead.
func TestGoModsAreFetchable(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "go.mod" {
			return nil
		}
		seen++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		f, err := modfile.ParseLax(rel, data, nil)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		for _, r := range f.Replace {
			t.Errorf("%s:%d: replace %s => %s: go.mod files must not replace (use go.work)", rel, r.Syntax.Start.Line, r.Old.Path, r.New.Path)
		}
		for _, r := range f.Require {
			if strings.HasPrefix(r.Mod.Path, repoPrefix) && strings.HasPrefix(r.Mod.Version, "v0.0.0") {
				t.Errorf("%s:%d: require %s %s: require repository modules at a release version such as v0.1.0", rel, r.Syntax.Start.Line, r.Mod.Path, r.Mod.Version)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 8 {
		t.Fatalf("found %d go.mod files under %s, want the repository's (at least 8)", seen, root)
	}
}
