package ui

import (
	"os"
	"testing"

	"halab/internal/gobuild"
)

// binDir holds vrrpd, labapp and lbd for lab tests, built once under /var/tmp,
// which nodes share with the host (unlike /tmp and /run).
var binDir string

func TestMain(m *testing.M) {
	os.Exit(gobuild.Main(m, os.Geteuid() == 0 && !gobuild.Short(), &binDir, "../cmd/vrrpd", "../cmd/labapp", "../cmd/lbd"))
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
