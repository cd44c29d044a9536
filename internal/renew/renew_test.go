package renew

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDue(t *testing.T) {
	tests := []struct {
		name    string
		since   time.Duration // since the last renewal; 0 means never renewed
		timeout time.Duration
		want    bool
	}{
		{"never renewed", 0, time.Minute, true},
		{"just renewed", time.Millisecond, time.Minute, false},
		{"under a 64th", 900 * time.Millisecond, time.Minute, false},
		{"past a 64th", 1000 * time.Millisecond, time.Minute, true},
		{"no timeout", time.Millisecond, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var last time.Time
			if tc.since > 0 {
				last = time.Now().Add(-tc.since)
			}
			before := last
			now, due := Due(&last, tc.timeout)
			assert.Equal(t, tc.want, due)
			assert.False(t, now.IsZero())
			if due {
				assert.Equal(t, now, last)
			} else {
				assert.Equal(t, before, last)
			}
		})
	}
}
