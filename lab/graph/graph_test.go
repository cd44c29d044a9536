package graph

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"halab/lab"
)

func loadTopo(t *testing.T, name string) *lab.Topology {
	t.Helper()
	topo, err := lab.LoadTopology(filepath.Join("..", "..", "topologies", name+".yaml"))
	require.NoError(t, err)
	return topo
}

func boxOf(ly *Layout, name string) Box {
	for _, b := range ly.Nodes {
		if b.Name == name {
			return b
		}
	}
	return Box{}
}

func busOf(ly *Layout, name string) Bus {
	for _, b := range ly.Buses {
		if b.Name == name {
			return b
		}
	}
	return Bus{}
}

func TestLayoutTiersAndBuses(t *testing.T) {
	tests := []struct {
		topo  string
		tiers [][]string
		// buses in order from top to bottom, each between the node above
		// and the node below.
		buses []struct{ lan, above, below string }
	}{
		{
			topo:  "simple",
			tiers: [][]string{{"client"}, {"nginx01", "nginx02"}, {"app01", "app02"}},
			buses: []struct{ lan, above, below string }{{"front", "client", "nginx01"}, {"back", "nginx01", "app01"}},
		},
		{
			topo:  "complex",
			tiers: [][]string{{"client"}, {"nginx01", "nginx02"}, {"haproxy01", "haproxy02"}, {"app01", "app02"}},
			buses: []struct{ lan, above, below string }{{"front", "client", "nginx01"}, {"mid", "nginx02", "haproxy01"}, {"back", "haproxy02", "app02"}},
		},
		{
			topo:  "active-active",
			tiers: [][]string{{"client"}, {"lvs01", "lvs02"}, {"nginx01", "nginx02"}, {"haproxy01", "haproxy02"}, {"app01", "app02"}},
			buses: []struct{ lan, above, below string }{{"edge", "client", "lvs01"}, {"front", "lvs02", "nginx01"}, {"mid", "nginx01", "haproxy01"}, {"back", "haproxy01", "app01"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.topo, func(t *testing.T) {
			ly := Compute(loadTopo(t, tc.topo))
			assert.Equal(t, tc.tiers, ly.Tiers)
			for _, b := range tc.buses {
				bus := busOf(ly, b.lan)
				require.NotEmpty(t, bus.Name, b.lan)
				assert.Greater(t, bus.Y, boxOf(ly, b.above).Y+NodeH, "%s below %s", b.lan, b.above)
				assert.Less(t, bus.Y, boxOf(ly, b.below).Y, "%s above %s", b.lan, b.below)
			}
			// Boxes never overlap and stay inside the drawing.
			for i, a := range ly.Nodes {
				assert.True(t, a.X >= 0 && a.Y >= 0 && a.X+a.W <= ly.Width && a.Y+a.H <= ly.Height, "%s inside", a.Name)
				for _, b := range ly.Nodes[i+1:] {
					overlap := a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
					assert.False(t, overlap, "%s and %s overlap", a.Name, b.Name)
				}
			}
			// Every wire reaches its bus, and the bus spans it.
			for _, w := range ly.Wires {
				bus := busOf(ly, w.LAN)
				assert.Equal(t, bus.Y, w.Y2, "%s:%s", w.Node, w.Iface)
				assert.True(t, bus.X1 < w.X && w.X < bus.X2, "%s:%s on %s", w.Node, w.Iface, w.LAN)
			}
		})
	}
}

func TestLayoutLinksAndUnknownRoles(t *testing.T) {
	topo, err := lab.ParseTopology("inline.yaml", []byte(`
name: chain
links: [p1, p2]
nodes:
  - name: a
    role: client
    interfaces: [{name: eth0, link: p1, addresses: [10.9.1.1/30]}]
  - name: r
    interfaces:
      - {name: eth0, link: p1, addresses: [10.9.1.2/30]}
      - {name: eth1, link: p2, addresses: [10.9.2.1/30]}
  - name: b
    role: app
    interfaces: [{name: eth0, link: p2, addresses: [10.9.2.2/30]}]
`))
	require.NoError(t, err)
	ly := Compute(topo)
	assert.Equal(t, [][]string{{"a"}, {"r"}, {"b"}}, ly.Tiers)
	require.Len(t, ly.Links, 2)
	assert.Equal(t, "p1", ly.Links[0].Name)
	assert.ElementsMatch(t, []string{"a", "r"}, []string{ly.Links[0].A, ly.Links[0].B})
	assert.Empty(t, ly.Buses)
}

func TestSVGIsWellFormedAndAddressable(t *testing.T) {
	ly := Compute(loadTopo(t, "complex"))
	svg := SVG(ly, SVGOptions{Standalone: true})
	dec := xml.NewDecoder(strings.NewReader(svg))
	ids := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					assert.False(t, ids[a.Value], "duplicate id %s", a.Value)
					ids[a.Value] = true
				}
			}
		}
	}
	for _, id := range []string{"node-nginx01", "node-app02", "bus-mid", "wire-haproxy01-eth1"} {
		assert.True(t, ids[id], id)
	}
	assert.Contains(t, svg, "10.0.2.0/24")
	assert.Contains(t, svg, "10.0.3.31/24")
}

func TestDot(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteDot(&b, Compute(loadTopo(t, "simple"))))
	dot := b.String()
	assert.True(t, strings.HasPrefix(dot, `graph "simple" {`))
	assert.Contains(t, dot, `"lan:front" -- "nginx01" [xlabel="eth0 10.0.1.11/24"];`)
	assert.Contains(t, dot, "rank=same;")
	assert.Equal(t, strings.Count(dot, "{"), strings.Count(dot, "}"))
}

var update = flag.Bool("update", false, "rewrite docs/*.svg and docs/*.dot")

// TestDocsUpToDate checks that docs/*.svg and docs/*.dot are what `lab
// graph` writes today; `go test ./lab/graph -run Docs -update` (or `lab
// graph topologies/X.yaml -o docs/X`) regenerates them.
func TestDocsUpToDate(t *testing.T) {
	for _, name := range []string{"simple", "complex", "active-active"} {
		ly := Compute(loadTopo(t, name))
		var dot bytes.Buffer
		require.NoError(t, WriteDot(&dot, ly))
		files := map[string]string{name + ".svg": SVG(ly, SVGOptions{Standalone: true}), name + ".dot": dot.String()}
		for file, text := range files {
			path := filepath.Join("..", "..", "docs", file)
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
				continue
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.True(t, string(want) == text, "docs/%s is stale: go test ./lab/graph -run Docs -update", file)
		}
	}
}
