package deploy

import (
	"go/version"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"golang.org/x/mod/modfile"
)

// Issue 9: the README states the Go version the modules require: the highest go directive of
// every go.mod and go.work (a workspace needs them all) must be the README's "Go X.Y or newer".
func TestReadmeGoVersionMatchesModules(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Go (\d+\.\d+) or newer`).FindAllSubmatch(readme, -1)
	if len(m) == 0 {
		t.Fatal(`README.md states no "Go X.Y or newer"`)
	}
	want := string(m[0][1])
	for _, s := range m[1:] {
		if string(s[1]) != want {
			t.Errorf("README.md states both Go %s and Go %s", want, s[1])
		}
	}
	var seen int
	highest, where := "", ""
	err = filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		var got string
		switch d.Name() {
		case "go.mod":
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f, err := modfile.ParseLax(path, b, nil)
			if err != nil {
				return err
			}
			if f.Go != nil {
				got = f.Go.Version
			}
		case "go.work":
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f, err := modfile.ParseWork(path, b, nil)
			if err != nil {
				return err
			}
			if f.Go != nil {
				got = f.Go.Version
			}
		default:
			return nil
		}
		seen++
		if got == "" {
			t.Errorf("%s has no go directive", path)
		}
		if version.Compare("go"+got, "go"+highest) > 0 {
			highest, where = got, path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if version.Lang("go"+highest) != "go"+want {
		t.Errorf("%s requires go %s; README.md says Go %s or newer", where, highest, want)
	}
	if seen < 8 { // seven modules and go.work
		t.Errorf("found %d go.mod and go.work files, want at least 8", seen)
	}
}
