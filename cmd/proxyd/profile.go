package main

import (
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile to $PROXYD_CPUPROFILE while the
// daemon runs, for performance work; the returned func stops it.
func startProfile() func() {
	path := os.Getenv("PROXYD_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
