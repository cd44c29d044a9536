package main

import (
	"os"
	"runtime"
	"strconv"
)

// workerThreads is how many goroutines may run at once for
// worker_processes: nginx runs that many single-threaded event loops,
// proxyd that many Ps in one process. "auto" (and 0) is the runtime's
// default, one per CPU it may use. A GOMAXPROCS environment variable wins,
// as a user who sets it means.
func workerThreads(setting string, auto int) int {
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	n, err := strconv.Atoi(setting)
	if err != nil || n <= 0 {
		return auto
	}
	return n
}

// applyWorkers sets GOMAXPROCS for the configuration's worker_processes;
// auto is the value the runtime chose at start.
func applyWorkers(setting string, auto int) int {
	n := workerThreads(setting, auto)
	runtime.GOMAXPROCS(n)
	return n
}
