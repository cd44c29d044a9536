package vrrpd

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// testBin is the vrrpd binary for lab tests, built once under /var/tmp,
// which nodes share with the host (unlike /tmp and /run).
var testBin string

func TestMain(m *testing.M) {
	var dir string
	if os.Geteuid() == 0 && !testingShort() {
		var err error
		dir, err = os.MkdirTemp("/var/tmp", "halab-vrrpd-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out, err := exec.Command("go", "build", "-o", dir+"/vrrpd", "../cmd/vrrpd").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build vrrpd: %v\n%s", err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		testBin = dir + "/vrrpd"
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
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
