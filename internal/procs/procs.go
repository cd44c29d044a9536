// Package procs sets how many goroutines run at once from a daemon's
// configuration: nginx's worker_processes, HAProxy's nbthread. Both name
// how many event loops run in parallel; in Go that is GOMAXPROCS.
package procs

import (
	"os"
	"runtime"
	"strconv"
)

// Threads is the parallelism for a configured count n: n when positive,
// otherwise auto (the runtime's default, one per usable CPU). A GOMAXPROCS
// environment variable wins, as a user who sets it means.
func Threads(n, auto int) int {
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		if e, err := strconv.Atoi(v); err == nil && e > 0 {
			return e
		}
	}
	if n > 0 {
		return n
	}
	return auto
}

// Setter applies configured counts over a process's life: the runtime's
// default is read once, at New, so that a reload back to "auto" restores it.
type Setter struct{ auto int }

// New remembers the runtime's current default.
func New() *Setter { return &Setter{auto: runtime.GOMAXPROCS(0)} }

// Apply sets GOMAXPROCS for a configured count (0 for auto) and returns it.
func (s *Setter) Apply(n int) int {
	t := Threads(n, s.auto)
	runtime.GOMAXPROCS(t)
	return t
}
