package gobuild

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForTestBuildsAndRemoves(t *testing.T) {
	var dir string
	t.Run("build", func(t *testing.T) {
		dir = ForTest(t, "halab/cmd/labapp")
		info, err := os.Stat(filepath.Join(dir, "labapp"))
		require.NoError(t, err)
		assert.NotZero(t, info.Mode()&0o100, "executable")
		assert.Equal(t, Parent, filepath.Dir(dir), "nodes see /var/tmp")
	})
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "removed when the test ended")
}

func TestBuildError(t *testing.T) {
	err := Build(t.TempDir()+"/", "halab/cmd/no-such-command")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go build halab/cmd/no-such-command")
}
