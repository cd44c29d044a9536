package vrrpd

import (
	"os"
	"testing"

	"halab/internal/gobuild"
)

// binDir holds vrrpd and labapp for lab tests, built once where nodes
// see them (internal/gobuild).
var binDir string

func TestMain(m *testing.M) {
	os.Exit(gobuild.Main(m, os.Geteuid() == 0 && !gobuild.Short(), &binDir, "../cmd/vrrpd", "../cmd/labapp"))
}
