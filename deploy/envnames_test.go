package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository root, seen from this package's directory (go test runs there).
const repoRoot = ".."

// Contract section 1: each process's admin port, and the ingress's public one.
var (
	adminPorts = map[string]int{"ingress": 9090, "worker": 9091, "dispatcher": 9092}
	publicPort = 8080
	services   = []string{"ingress", "worker", "dispatcher"}
)

// workerEnvNames are the worker's own settings (services/worker/app/config.go), used only while
// the worker's source is not in this checkout: the scan below finds them once it is.
var workerEnvNames = []string{
	"HOOKLINE_WORKER_CONCURRENCY", "HOOKLINE_WORKER_MAX_ACK_PENDING", "HOOKLINE_WORKER_ACK_WAIT",
	"HOOKLINE_WORKER_MAX_DELIVER", "HOOKLINE_WORKER_BACKOFF", "HOOKLINE_DEDUPE_TTL",
}

var envLiteral = regexp.MustCompile(`"(HOOKLINE_[A-Z0-9_]+|NATS_URL|REDIS_URL)"`)

// knownEnvNames returns every environment variable the services read: the string literals of
// that shape in the non-test Go source of pkg/, services/ and cmd/. A variable in the compose file
// or the manifests that is not among them is a typo the services would silently ignore.
func knownEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	names, err := scanEnvNames(repoRoot)
	if err != nil {
		t.Fatalf("scan the services' source for environment variables: %v", err)
	}
	if !hasGoFiles(filepath.Join(repoRoot, "services", "worker")) {
		t.Logf("services/worker has no Go source in this checkout: using the worker's settings list")
		for _, n := range workerEnvNames {
			names[n] = true
		}
	}
	for _, must := range []string{"NATS_URL", "REDIS_URL", "HOOKLINE_ADMIN_ADDR", "HOOKLINE_STREAM_REPLICAS", "HOOKLINE_CALLBACK_SECRET"} {
		if !names[must] {
			t.Fatalf("the source scan did not find %s: is %s the repository root?", must, repoRoot)
		}
	}
	return names
}

func scanEnvNames(root string) (map[string]bool, error) {
	names := map[string]bool{}
	for _, dir := range []string{"pkg", "services", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			for _, m := range envLiteral.FindAllStringSubmatch(string(src), -1) {
				names[m[1]] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", dir, err)
		}
	}
	return names, nil
}

func hasGoFiles(dir string) bool {
	found := false
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// checkEnvNames reports every name in got that the services do not read.
func checkEnvNames(t *testing.T, where string, got []string, known map[string]bool) {
	t.Helper()
	for _, n := range got {
		if !known[n] {
			t.Errorf("%s sets %s, which no service reads (misspelt?)", where, n)
		}
	}
}

func TestEnvNameScanFindsEveryContractSetting(t *testing.T) {
	known := knownEnvNames(t)
	// Contract section 8 and README's configuration table.
	contract := []string{
		"NATS_URL", "REDIS_URL", "HOOKLINE_HTTP_ADDR", "HOOKLINE_ADMIN_ADDR",
		"HOOKLINE_PETSTORE_SECRETS", "HOOKLINE_BUNJANG_SECRETS", "HOOKLINE_JWT_SECRET",
		"HOOKLINE_CALLBACK_SECRET", "HOOKLINE_LOG_LEVEL", "HOOKLINE_RATE_LIMIT_RPS",
		"HOOKLINE_RATE_LIMIT_BURST", "HOOKLINE_MAX_BODY_BYTES", "HOOKLINE_PETSTORE_MAX_AGE",
		"HOOKLINE_BUNJANG_TOLERANCE", "HOOKLINE_STREAM_REPLICAS", "HOOKLINE_DUPLICATE_WINDOW",
		"HOOKLINE_STREAM_MAX_AGE", "HOOKLINE_CALLBACK_RETRY_DELAYS", "HOOKLINE_CALLBACK_ALLOW_PRIVATE",
		"HOOKLINE_CONFIG", "HOOKLINE_PUBLISH_TIMEOUT", "HOOKLINE_SHUTDOWN_TIMEOUT",
	}
	contract = append(contract, workerEnvNames...)
	for _, n := range contract {
		if !known[n] {
			t.Errorf("%s is in the contract but the scan of the services' source did not find it", n)
		}
	}
}

func TestScanEnvNamesReadsOnlyNonTestSource(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"pkg/a/a.go":          `package a; var _ = e("HOOKLINE_FOO"); var _ = "NATS_URL"`,
		"pkg/a/a_test.go":     `package a; var _ = e("HOOKLINE_FROM_TEST")`,
		"services/x/x.go":     `package x; const Env = "HOOKLINE_X_SETTING" // "not HOOKLINE_lower"`,
		"cmd/c/notes.txt":     `"HOOKLINE_IN_TEXT"`,
		"services/x/x/doc.go": `// HOOKLINE_IN_COMMENT is not quoted`,
	}
	for name, body := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := scanEnvNames(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"HOOKLINE_FOO", "HOOKLINE_X_SETTING", "NATS_URL"}
	if !slices.Equal(names, want) {
		t.Fatalf("scanEnvNames = %v, want %v", names, want)
	}
}
