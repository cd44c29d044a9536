package yamlpos

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestWrap(t *testing.T) {
	var v struct {
		N int `yaml:"n"`
	}
	err := yaml.Unmarshal([]byte("n: [1]\n"), &v)
	require.Error(t, err)
	assert.EqualError(t, Wrap("f.yaml", err), "f.yaml:1: cannot unmarshal a list into int")

	err = yaml.Unmarshal([]byte("a: b\n  c: d\n"), &v)
	assert.ErrorContains(t, Wrap("f.yaml", err), "f.yaml:2: ")

	pe := Errorf(7, "bad %s", "thing")
	assert.EqualError(t, Wrap("g.yaml", pe), "g.yaml:7: bad thing")
	named := &Error{File: "inner.yaml", Line: 3, Msg: "x"}
	assert.EqualError(t, Wrap("outer.yaml", named), "inner.yaml:3: x")
	assert.EqualError(t, Wrap("h.yaml", errors.New("boom")), "h.yaml: boom")
	assert.NoError(t, Wrap("h.yaml", nil))
}

func TestCheckKeys(t *testing.T) {
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte("a: 1\nzz: 2\n"), &n))
	err := CheckKeys(n.Content[0], "thing", "a", "b")
	assert.EqualError(t, Wrap("k.yaml", err), `k.yaml:2: unknown field "zz" in thing (allowed: a, b)`)
	assert.NoError(t, CheckKeys(n.Content[0], "thing", "a", "zz"))
	assert.ErrorContains(t, CheckKeys(n.Content[0].Content[1], "thing"), "thing must be a mapping")
}
