package assert

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vrrpd.log")
	require.NoError(t, os.WriteFile(path, []byte("start\nVI_1: Entering BACKUP STATE\n"), 0o644))
	requirePass(t, check(func(r TestingT) { LogLine(r, path, `Entering BACKUP`, 0) }))

	go func() {
		time.Sleep(100 * time.Millisecond)
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, _ = f.WriteString("VI_1: Entering MASTER STATE\n")
			f.Close()
		}
	}()
	requirePass(t, check(func(r TestingT) { LogLine(r, path, `Entering MASTER`, 5*time.Second) }))

	msg := check(func(r TestingT) { LogLine(r, path, `Entering FAULT`, 0) })
	assert.Contains(t, msg, "expected a line matching `Entering FAULT` in "+path+" now")
	assert.Contains(t, msg, "saw no such line; the log ends with:\n  start\n  VI_1: Entering BACKUP STATE\n  VI_1: Entering MASTER STATE")
	assert.Contains(t, check(func(r TestingT) { LogLine(r, path+".none", `x`, 0) }), "saw no log:")
	assert.Contains(t, check(func(r TestingT) { LogLine(r, path, `(`, 0) }), "bad regular expression")
}
