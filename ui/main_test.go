package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds vrrpd, labapp and lbd for lab tests, built once under /var/tmp,
// which nodes share with the host (unlike /tmp and /run).
var binDir string

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 && !testingShort() {
		dir, err := os.MkdirTemp("/var/tmp", "halab-ui-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, cmd := range []string{"vrrpd", "labapp", "lbd"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "../cmd/"+cmd).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", cmd, err, out)
				os.RemoveAll(dir)
				os.Exit(1)
			}
		}
		binDir = dir
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// testingShort reads -test.short before flag parsing in TestMain.
func testingShort() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

func requireLab(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("lab test skipped in -short mode")
	}
	if os.Geteuid() != 0 || binDir == "" {
		t.Skip("lab tests need root")
	}
}
