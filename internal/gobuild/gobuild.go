// Package gobuild compiles halab's commands for tests that run them as
// processes, beside the test or in lab nodes. Nodes see the host's
// /var/tmp but not its /tmp, so the binaries go under /var/tmp, and every
// directory made here is removed when the test or the test binary ends.
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Parent is where build directories are made.
const Parent = "/var/tmp"

// Build runs "go build -o out pkgs..." with the toolchain running the
// tests: out is a directory for several packages, or a file for one.
// Package paths may be relative to the test's package directory.
func Build(out string, pkgs ...string) error {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	b, err := exec.Command(goBin, append([]string{"build", "-o", out}, pkgs...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, b)
	}
	return nil
}

// ForTest builds pkgs into a new directory under Parent, removed when tb
// ends, and returns the directory.
func ForTest(tb testing.TB, pkgs ...string) string {
	tb.Helper()
	dir, err := os.MkdirTemp(Parent, "halab-bin-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := Build(dir+"/", pkgs...); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Main is a TestMain body: when build is set it builds pkgs into a new
// directory under Parent and stores it in *dir, then runs the tests and
// removes the directory. It returns the code to exit with.
func Main(m *testing.M, build bool, dir *string, pkgs ...string) int {
	if build {
		d, err := os.MkdirTemp(Parent, "halab-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		if err := Build(d+"/", pkgs...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		*dir = d
	}
	return m.Run()
}

// Short tells whether -test.short is among the arguments, for TestMain
// before flags are parsed.
func Short() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}
