package main

import "strconv"

// workerCount reads worker_processes as a count for procs.Setter: nginx
// runs that many single-threaded event loops, proxyd lets that many
// goroutines run at once; "auto" is 0, one per usable CPU.
func workerCount(setting string) int {
	n, err := strconv.Atoi(setting)
	if err != nil {
		return 0
	}
	return n
}
