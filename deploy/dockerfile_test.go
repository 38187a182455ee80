package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"
)

// These tests check the Dockerfiles by reading them: the stages and the final image's user,
// ports, healthcheck and entrypoint, that every file the build needs is copied and not cut out of
// the build context by .dockerignore, and that nothing needs BuildKit or a registry beyond the
// base images. scripts/compose-smoke.sh (a CI step) then builds and runs the images for real.

const (
	finalImage    = "gcr.io/distroless/static-debian12:nonroot"
	healthcheckIn = "/usr/local/bin/healthcheck"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, …
	args string
	line int
}

func parseDockerfile(path string) ([]instruction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var (
		out     []instruction
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " "), line: start})
		pending.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("%s: the last instruction ends with a line continuation", path)
	}
	return out, nil
}

// stages splits the instructions at each FROM.
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

// fromImage returns the image of a FROM instruction, without --platform and AS.
func fromImage(args string) string {
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "--") {
			return f
		}
	}
	return ""
}

// copySources returns the build-context sources of a COPY (not COPY --from).
func copySources(args string) []string {
	fields := strings.Fields(args)
	var plain []string
	for _, f := range fields {
		if strings.HasPrefix(f, "--from=") {
			return nil
		}
		if !strings.HasPrefix(f, "--") {
			plain = append(plain, f)
		}
	}
	if len(plain) < 2 {
		return nil
	}
	return plain[:len(plain)-1]
}

func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		t.Errorf("%s %s: want the JSON exec form: %v", what, args, err)
	}
	return out
}

func dockerignore(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	return pm
}

func ignored(t *testing.T, pm *patternmatcher.PatternMatcher, path string) bool {
	t.Helper()
	ex, err := pm.MatchesOrParentMatches(filepath.ToSlash(filepath.Clean(path)))
	if err != nil {
		t.Fatalf(".dockerignore match %s: %v", path, err)
	}
	return ex
}

func goVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	wf, err := modfile.ParseWork("go.work", b, nil)
	if err != nil {
		t.Fatalf("go.work: %v", err)
	}
	if wf.Go == nil {
		t.Fatal("go.work has no go line")
	}
	parts := strings.SplitN(wf.Go.Version, ".", 3)
	return parts[0] + "." + parts[1]
}

func TestDockerfiles(t *testing.T) {
	pm := dockerignore(t)
	goMinor := goVersion(t)
	for _, name := range services {
		t.Run(name, func(t *testing.T) {
			dockerfile := filepath.Join(repoRoot, "services", name, "Dockerfile")
			ins, err := parseDockerfile(dockerfile)
			if err != nil {
				t.Fatal(err)
			}
			st := stages(ins)
			if len(st) != 2 {
				t.Fatalf("%d stages, want a build stage and the final image", len(st))
			}
			build, final := st[0], st[1]

			// Build stage: the workspace's Go, static, trimmed.
			if img, want := fromImage(build[0].args), "golang:"+goMinor+"-bookworm"; img != want {
				t.Errorf("build image = %q, want %q (go.work says go %s)", img, want, goMinor)
			}
			var env, runs []string
			var sources []string
			for _, in := range build {
				switch in.cmd {
				case "ENV":
					env = append(env, strings.Fields(in.args)...)
				case "RUN":
					runs = append(runs, in.args)
				case "COPY", "ADD":
					sources = append(sources, copySources(in.args)...)
				}
			}
			for _, want := range []string{"CGO_ENABLED=0", "GOWORK=off"} {
				if !slices.Contains(env, want) {
					t.Errorf("build stage ENV lacks %s", want)
				}
			}
			run := strings.Join(runs, "\n")
			for _, want := range []string{
				"cd services/" + name + " &&",
				`-trimpath -ldflags="-s -w" -o /out/` + name + " .",
				`-o /out/healthcheck ./healthcheck`,
			} {
				if !strings.Contains(run, want) {
					t.Errorf("build stage RUN lacks %q", want)
				}
			}

			// Final stage: distroless, nonroot, the contract's ports.
			if img := fromImage(final[0].args); img != finalImage {
				t.Errorf("final image = %q, want %q", img, finalImage)
			}
			byCmd := map[string][]instruction{}
			for _, in := range final[1:] {
				byCmd[in.cmd] = append(byCmd[in.cmd], in)
			}
			if u := byCmd["USER"]; len(u) != 1 || (u[0].args != "nonroot:nonroot" && u[0].args != "65532:65532") {
				t.Errorf("USER = %+v, want nonroot:nonroot", u)
			}
			wantPorts := []string{strconv.Itoa(adminPorts[name])}
			if name == "ingress" {
				wantPorts = []string{strconv.Itoa(publicPort), strconv.Itoa(adminPorts[name])}
			}
			var exposed []string
			for _, in := range byCmd["EXPOSE"] {
				exposed = append(exposed, strings.Fields(in.args)...)
			}
			if !slices.Equal(exposed, wantPorts) {
				t.Errorf("EXPOSE %v, want %v", exposed, wantPorts)
			}
			if c := byCmd["COPY"]; len(c) != 1 || c[0].args != fmt.Sprintf("--from=build /out/%s /out/healthcheck /usr/local/bin/", name) {
				t.Errorf("final COPY = %+v, want the service and the healthcheck binaries into /usr/local/bin/", c)
			}
			if e := byCmd["ENTRYPOINT"]; len(e) != 1 || !slices.Equal(execForm(t, "ENTRYPOINT", e[0].args), []string{"/usr/local/bin/" + name}) {
				t.Errorf("ENTRYPOINT = %+v, want [/usr/local/bin/%s]", e, name)
			}
			hc := byCmd["HEALTHCHECK"]
			if len(hc) != 1 {
				t.Fatalf("HEALTHCHECK = %+v, want one", hc)
			}
			opts, cmd, ok := strings.Cut(hc[0].args, " CMD ")
			// Readiness: /readyz fails while NATS (or Redis) is unreachable, so the container
			// turns unhealthy when a dependency stays down past the start period; /healthz
			// would say healthy throughout.
			wantHC := []string{healthcheckIn, fmt.Sprintf("http://127.0.0.1:%d/readyz", adminPorts[name])}
			if !ok || !slices.Equal(execForm(t, "HEALTHCHECK CMD", cmd), wantHC) {
				t.Errorf("HEALTHCHECK %q, want CMD %q", hc[0].args, wantHC)
			}
			checkHealthcheckOptions(t, opts)

			checkBuildContext(t, pm, name, sources)
		})
	}
}

// checkHealthcheckOptions wants a start period (the service connects to NATS in the background
// and is not ready at once) and a bounded number of retries, so a dependency that stays down
// turns the container unhealthy.
func checkHealthcheckOptions(t *testing.T, opts string) {
	t.Helper()
	got := map[string]string{}
	for _, f := range strings.Fields(opts) {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		got[k] = v
	}
	for _, k := range []string{"interval", "timeout", "start-period"} {
		d, err := time.ParseDuration(got[k])
		if err != nil || d <= 0 {
			t.Errorf("HEALTHCHECK --%s=%q, want a positive duration", k, got[k])
		}
	}
	if n, err := strconv.Atoi(got["retries"]); err != nil || n < 1 || n > 10 {
		t.Errorf("HEALTHCHECK --retries=%q, want 1 to 10", got["retries"])
	}
}

// The images must build offline with the classic builder (Docker 20.10's default, and what
// docker-compose 1.29 uses) as well as with BuildKit. A syntax directive pulls a frontend image
// from a registry; FROM --platform with the BuildKit variables, RUN --mount and friends, COPY
// --link/--chmod/--parents/--exclude and heredocs fail on the classic builder.
func TestDockerfilesNeedNeitherBuildKitNorARegistry(t *testing.T) {
	for _, name := range services {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(repoRoot, "services", name, "Dockerfile")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range buildKitOnly(string(b)) {
				t.Errorf("%s: %s", path, p)
			}
		})
	}
}

// buildKitOnly lists what in a Dockerfile needs BuildKit or a registry beyond its base images.
func buildKitOnly(src string) []string {
	var problems []string
	inDirectives := true
	for i, raw := range strings.Split(src, "\n") {
		line := strings.TrimSpace(raw)
		// Parser directives are comments of the form "# key=value" before any other line.
		if inDirectives && strings.HasPrefix(line, "#") {
			k, _, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "syntax") {
				problems = append(problems, fmt.Sprintf("line %d: %q pulls a frontend image from a registry", i+1, line))
			}
			continue
		}
		inDirectives = false
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		cmd := strings.ToUpper(fields[0])
		for _, f := range fields[1:] {
			flag, _, _ := strings.Cut(f, "=")
			bad := false
			switch cmd {
			case "FROM":
				bad = flag == "--platform" && strings.Contains(f, "$")
			case "RUN":
				bad = flag == "--mount" || flag == "--network" || flag == "--security"
			case "COPY", "ADD":
				bad = flag == "--link" || flag == "--chmod" || flag == "--parents" || flag == "--exclude" || flag == "--keep-git-dir" || flag == "--checksum"
			}
			if bad {
				problems = append(problems, fmt.Sprintf("line %d: %s %s needs BuildKit (the classic builder fails)", i+1, cmd, flag))
			}
			if !strings.HasPrefix(f, "--") {
				break
			}
		}
		if (cmd == "RUN" || cmd == "COPY") && strings.Contains(line, "<<") {
			problems = append(problems, fmt.Sprintf("line %d: a heredoc needs BuildKit", i+1))
		}
	}
	return problems
}

func TestBuildKitOnly(t *testing.T) {
	tests := []struct {
		give string
		want int
	}{
		{"FROM golang:1.26 AS build\nRUN go build ./...\nCOPY --from=build /a /b\n", 0},
		{"# escape=\\\nFROM golang:1.26\n", 0},
		{"# syntax=docker/dockerfile:1\nFROM golang:1.26\n", 1},
		{"#syntax = docker/dockerfile:1.7\nFROM golang:1.26\n", 1},
		{"FROM golang:1.26\n# syntax=docker/dockerfile:1 is only a comment here\n", 0},
		{"FROM --platform=$BUILDPLATFORM golang:1.26 AS build\n", 1},
		{"FROM --platform=linux/amd64 golang:1.26\n", 0},
		{"RUN --mount=type=cache,target=/root/.cache/go-build go build\n", 1},
		{"COPY --link --chmod=755 a /b\n", 2},
		{"COPY --chown=65532:65532 a /b\n", 0},
		{"RUN <<EOF\necho hi\nEOF\n", 1},
		{"RUN echo --mount=x\n", 0},
	}
	for _, tt := range tests {
		if got := buildKitOnly(tt.give); len(got) != tt.want {
			t.Errorf("buildKitOnly(%q) = %q, want %d problems", tt.give, got, tt.want)
		}
	}
}

// checkBuildContext checks that the build stage copies every directory the service's go.mod
// replaces, that each COPY source exists and survives .dockerignore, and that the files of the
// copied directories do too (tests and docs excepted).
func checkBuildContext(t *testing.T, pm *patternmatcher.PatternMatcher, name string, sources []string) {
	t.Helper()
	svcDir := filepath.Join("services", name)
	gomod, err := os.ReadFile(filepath.Join(repoRoot, svcDir, "go.mod"))
	if os.IsNotExist(err) {
		// The worker is merged from another branch; its files are checked once it is here.
		t.Logf("%s/go.mod is not in this checkout: skipping the build-context checks of %s", svcDir, name)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse(filepath.Join(svcDir, "go.mod"), gomod, nil)
	if err != nil {
		t.Fatalf("%s/go.mod: %v", svcDir, err)
	}
	// GOWORK=off builds from the module's own go.mod: every local replacement must be copied,
	// with its go.mod before the download step.
	dirs := []string{svcDir, filepath.Join("deploy", "healthcheck")}
	for _, r := range mf.Replace {
		if !modfile.IsDirectoryPath(r.New.Path) {
			continue
		}
		dir := filepath.Clean(filepath.Join(svcDir, r.New.Path))
		dirs = append(dirs, dir)
		for _, want := range []string{dir + "/", dir + "/go.mod"} {
			if !slices.Contains(sources, filepath.ToSlash(want)) {
				t.Errorf("go.mod replaces %s => %s, but the build stage does not COPY %s", r.Old.Path, r.New.Path, want)
			}
		}
	}
	for _, src := range sources {
		if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
			t.Errorf("COPY %s: %v", src, err)
		}
		if ignored(t, pm, src) {
			t.Errorf("COPY %s: .dockerignore leaves it out of the build context", src)
		}
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(repoRoot, path)
			if err != nil {
				return err
			}
			isTest := strings.HasSuffix(rel, "_test.go") || strings.Contains(rel, "/testdata/")
			// Everything but tests and docs may be compiled or embedded (the worker embeds a
			// Lua script).
			needed := !isTest && !strings.HasSuffix(rel, ".md") && filepath.Base(rel) != "Dockerfile"
			if got := ignored(t, pm, rel); needed && got {
				t.Errorf("%s is needed by the build but .dockerignore leaves it out", rel)
			} else if isTest && !got {
				t.Errorf("%s is a test file in the build context: .dockerignore should leave it out", rel)
			}
			return nil
		})
		if err != nil {
			t.Errorf("walk %s: %v", dir, err)
		}
	}
}

// The healthcheck binary is built inside each image from deploy/go.mod with GOWORK=off and no
// download step: that works only while it imports the standard library alone.
func TestHealthcheckImportsOnlyTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("healthcheck/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no healthcheck source: %v", err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: the image build cannot fetch it", file, path)
			}
		}
	}
}

func TestDockerignoreRules(t *testing.T) {
	pm := dockerignore(t)
	for path, want := range map[string]bool{
		".git/config":                     true,
		"deploy/overlays/prod/scale.yaml": true,
		"deploy/kustomize_test.go":        true,
		"docker-compose.yml":              true,
		"pkg/config/config_test.go":       true,
		"services/ingress/README.md":      true,
		"pkg/config/config.go":            false,
		"services/ingress/main.go":        false,
		"deploy/healthcheck/main.go":      false,
		"deploy/go.sum":                   false,
		"proto/go.mod":                    false,
	} {
		if got := ignored(t, pm, path); got != want {
			t.Errorf(".dockerignore leaves out %s = %v, want %v", path, got, want)
		}
	}
}

func TestParseDockerfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Dockerfile")
	src := "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM golang:1.26 AS build\n" +
		"RUN a && \\\n    b\n\nCOPY --from=build /x /y\nCOPY a b c/\nEXPOSE 1 2\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ins, err := parseDockerfile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		got = append(got, fmt.Sprintf("%d %s %s", in.line, in.cmd, in.args))
	}
	want := []string{
		"2 FROM --platform=$BUILDPLATFORM golang:1.26 AS build",
		"3 RUN a && b",
		"6 COPY --from=build /x /y",
		"7 COPY a b c/",
		"8 EXPOSE 1 2",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("parsed\n%q\nwant\n%q", got, want)
	}
	if img := fromImage(ins[0].args); img != "golang:1.26" {
		t.Errorf("fromImage = %q", img)
	}
	if s := copySources(ins[2].args); s != nil {
		t.Errorf("COPY --from sources = %v, want none from the context", s)
	}
	if s := copySources(ins[3].args); !slices.Equal(s, []string{"a", "b"}) {
		t.Errorf("copySources = %v", s)
	}
	if _, err := parseDockerfile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing Dockerfile parsed")
	}
}
