package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"halab/internal/gobuild"
)

// testBinDir holds labapp, built once for the lab tests. It is outside
// /tmp, /run and /var/log, which nodes do not share with the host.
var testBinDir string

func TestMain(m *testing.M) {
	// Child mode for the crash and not-root tests: bring a lab up and block.
	if file := os.Getenv("HALAB_TEST_UP"); file != "" {
		os.Exit(childUp(file, os.Getenv("HALAB_TEST_UP_NAME")))
	}
	os.Exit(gobuild.Main(m, os.Geteuid() == 0, &testBinDir, "../cmd/labapp"))
}

func childUp(file, name string) int {
	t, err := LoadTopology(file)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	t.Name = name
	if _, err := Up(context.Background(), t, WithoutRun()); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("up")
	time.Sleep(time.Hour)
	return 0
}

// requireRoot stops a test that needs namespaces when not root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("lab tests need root (namespaces); run them as root: make test")
	}
}

// upTopology brings up an article topology under another name and tears
// it down when the test ends.
func upTopology(t *testing.T, file, name string, opts ...Option) *Lab {
	t.Helper()
	requireRoot(t)
	topo, err := LoadTopology(filepath.Join("..", "topologies", file))
	if err != nil {
		t.Fatal(err)
	}
	topo.Name = name
	_ = Down(context.Background(), name) // a previous run's leftovers
	l, err := Up(context.Background(), topo, append([]Option{WithBinDir(testBinDir)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(context.Background()); err != nil {
			t.Errorf("down %s: %v", name, err)
		}
	})
	return l
}
