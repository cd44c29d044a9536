// Package renew paces the renewal of inactivity deadlines on connections.
//
// nginx's and HAProxy's timeouts bound the time between two successive
// reads or writes, so a deadline moves on with every bit of progress.
// Setting a deadline costs a runtime timer update; Due lets a connection
// renew it only once a 64th of the timeout has passed, so a 60 s timeout
// fires between 59 and 60 s after the last progress.
package renew

import "time"

// Due tells whether a deadline last renewed at *last for timeout should
// be renewed now; if so it records now in *last. It returns the current
// time either way.
func Due(last *time.Time, timeout time.Duration) (time.Time, bool) {
	now := time.Now()
	if now.Sub(*last) < timeout/64 {
		return now, false
	}
	*last = now
	return now, true
}
