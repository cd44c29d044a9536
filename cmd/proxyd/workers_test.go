package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWorkerThreads(t *testing.T) {
	for _, tc := range []struct {
		setting, env string
		want         int
	}{
		{"1", "", 1},
		{"4", "", 4},
		{"auto", "", 8},
		{"", "", 8},
		{"0", "", 8},
		{"1", "3", 3},
		{"auto", "2", 2},
		{"1", "junk", 1},
	} {
		t.Run(tc.setting+"/"+tc.env, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tc.env)
			assert.Equal(t, tc.want, workerThreads(tc.setting, 8))
		})
	}
}
