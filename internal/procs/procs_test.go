package procs

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestThreads(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		env  string
		want int
	}{
		{"configured", 1, "", 1},
		{"several", 4, "", 4},
		{"auto", 0, "", 8},
		{"environment wins", 1, "3", 3},
		{"environment over auto", 0, "2", 2},
		{"bad environment ignored", 1, "junk", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tc.env)
			assert.Equal(t, tc.want, Threads(tc.n, 8))
		})
	}
}

func TestSetterRestoresAuto(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	s := New()
	assert.Equal(t, 1, s.Apply(1))
	assert.Equal(t, 1, runtime.GOMAXPROCS(0))
	assert.Equal(t, before, s.Apply(0))
	assert.Equal(t, before, runtime.GOMAXPROCS(0))
}
