package lab

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const validTopo = `name: t1
lans:
  - name: front
links:
  - name: p2p
nodes:
  - name: a
    role: client
    interfaces:
      - name: eth0
        lan: front
        addresses: [10.0.1.1/24, "fd00::1/64"]
      - name: eth1
        link: p2p
        addresses: [10.9.0.1/30]
    routes:
      - to: default
        via: 10.0.1.254
      - to: 192.168.7.0/24
        dev: eth1
    sysctls:
      net.ipv4.ip_forward: "1"
  - name: b
    interfaces:
      - name: eth0
        link: p2p
        addresses: [10.9.0.2/30]
    run:
      - name: app
        cmd: [labapp, -listen, ":80"]
`

func TestParseTopologyValid(t *testing.T) {
	topo, err := ParseTopology("t1.yaml", []byte(validTopo))
	require.NoError(t, err)
	assert.Equal(t, "t1", topo.Name)
	require.Len(t, topo.Nodes, 2)
	a := topo.Nodes[0]
	assert.Equal(t, "client", a.Role)
	require.Len(t, a.Interfaces, 2)
	assert.Equal(t, "10.0.1.1/24", a.Interfaces[0].Addresses[0].Prefix.String())
	assert.Equal(t, "fd00::1/64", a.Interfaces[0].Addresses[1].Prefix.String())
	assert.Equal(t, "1", a.Sysctls["net.ipv4.ip_forward"])
	assert.Equal(t, []string{"labapp", "-listen", ":80"}, topo.Nodes[1].Run[0].Cmd)

	// The marshalled form parses back to the same topology.
	b, err := topo.Marshal()
	require.NoError(t, err)
	again, err := ParseTopology("again.yaml", b)
	require.NoError(t, err)
	assert.Equal(t, topo.Nodes[0].Interfaces[0].Addresses[1].Prefix, again.Nodes[0].Interfaces[0].Addresses[1].Prefix)
	assert.Equal(t, topo.Nodes[0].Routes[1].Dev, again.Nodes[0].Routes[1].Dev)
}

func TestParseTopologyErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // FILE:LINE: message fragment
	}{
		{"unknown LAN", `name: x
lans: [front]
nodes:
  - name: a
    interfaces:
      - name: eth0
        lan: back
`, `bad.yaml:6: node a interface eth0: unknown LAN "back"`},
		{"unknown link", `name: x
nodes:
  - name: a
    interfaces:
      - {name: eth0, link: nowhere}
`, `bad.yaml:5: node a interface eth0: unknown link "nowhere"`},
		{"link with one end", `name: x
links: [p1]
nodes:
  - name: a
    interfaces:
      - {name: eth0, link: p1}
`, `bad.yaml:2: link "p1" must join exactly two interfaces, has 1`},
		{"duplicate address", `name: x
lans: [l]
nodes:
  - name: a
    interfaces:
      - {name: eth0, lan: l, addresses: [10.0.0.1/24]}
  - name: b
    interfaces:
      - name: eth0
        lan: l
        addresses:
          - 10.0.0.1/24
`, `bad.yaml:12: duplicate address 10.0.0.1: already on a:eth0 (line 6)`},
		{"duplicate interface", `name: x
lans: [l]
nodes:
  - name: a
    interfaces:
      - {name: eth0, lan: l}
      - {name: eth0, lan: l}
`, `bad.yaml:7: node a: duplicate interface "eth0" (first defined at line 6)`},
		{"malformed CIDR", `name: x
lans: [l]
nodes:
  - name: a
    interfaces:
      - name: eth0
        lan: l
        addresses: [10.0.0.300/24]
`, `bad.yaml:8: malformed CIDR address "10.0.0.300/24"`},
		{"address without prefix", `name: x
lans: [l]
nodes:
  - name: a
    interfaces:
      - {name: eth0, lan: l, addresses: [10.0.0.3]}
`, `bad.yaml:6: malformed CIDR address "10.0.0.3"`},
		{"gateway off subnet", `name: x
lans: [l]
nodes:
  - name: a
    interfaces:
      - {name: eth0, lan: l, addresses: [10.0.0.3/24]}
    routes:
      - to: default
        via: 10.0.9.1
`, `bad.yaml:8: node a: gateway 10.0.9.1 is not on any connected subnet of the node`},
		{"bad route destination", `name: x
lans: [l]
nodes:
  - name: a
    interfaces:
      - {name: eth0, lan: l, addresses: [10.0.0.3/24]}
    routes:
      - {to: 10.1.0.0/33, via: 10.0.0.1}
`, `bad.yaml:8: node a: route to "10.1.0.0/33"`},
		{"duplicate node", `name: x
nodes:
  - name: a
  - name: a
`, `bad.yaml:4: duplicate node "a" (first defined at line 3)`},
		{"unknown field", `name: x
nodes:
  - name: a
    interfacez: []
`, `bad.yaml:4: unknown field "interfacez" in node`},
		{"host sysctl", `name: x
nodes:
  - name: a
    sysctls:
      kernel.panic: "1"
`, `bad.yaml:3: node a: sysctl "kernel.panic": only per-namespace net.* sysctls`},
		{"bad lab name", `name: "My Lab"
nodes:
  - name: a
`, `bad.yaml: lab name "My Lab"`},
		{"bad node name", `name: x
nodes:
  - name: a.b
`, `bad.yaml:3: node name "a.b"`},
		{"no lan or link", `name: x
nodes:
  - name: a
    interfaces:
      - name: eth0
`, `bad.yaml:5: node a interface eth0: needs a lan or a link`},
		{"interface name too long", `name: x
lans: [l]
nodes:
  - name: a
    interfaces:
      - {name: averyveryverylongname, lan: l}
`, `bad.yaml:6: node a: interface name "averyveryverylongname"`},
		{"yaml syntax", "name: x\nnodes:\n  - name: a\n   bad: indent\n", `bad.yaml:2: did not find expected '-' indicator`},
		{"wrong type", "name: x\nnodes:\n  - name: a\n    interfaces: 3\n", `bad.yaml:4:`},
		{"empty", "", `bad.yaml: empty topology`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTopology("bad.yaml", []byte(tt.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestArticleTopologiesParse(t *testing.T) {
	files, err := filepath.Glob("../topologies/*.yaml")
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, f := range files {
		topo, err := LoadTopology(f)
		require.NoError(t, err, f)
		assert.True(t, strings.HasSuffix(topo.File, filepath.Base(f)))
	}
}

func TestMACStableAndLocal(t *testing.T) {
	a := MAC("simple", "nginx01", "eth0")
	assert.Equal(t, a, MAC("simple", "nginx01", "eth0"))
	assert.NotEqual(t, a, MAC("simple", "nginx02", "eth0"))
	assert.NotEqual(t, a, MAC("other", "nginx01", "eth0"))
	assert.Equal(t, byte(0x02), a[0]&0x03, "locally administered unicast")
}

func TestPortNameFits(t *testing.T) {
	assert.Equal(t, "app01-eth0", portName("app01", "eth0"))
	long := portName("a-very-long-node-name", "eth0")
	assert.LessOrEqual(t, len(long), 15)
	assert.Equal(t, long, portName("a-very-long-node-name", "eth0"))
	assert.NotEqual(t, long, portName("a-very-long-node-name", "eth1"))
}

func FuzzParseTopology(f *testing.F) {
	f.Add([]byte(validTopo))
	f.Add([]byte("name: x\nnodes: [{name: a}]\n"))
	f.Add([]byte("name: x\nlans: [l]\nnodes:\n  - name: a\n    interfaces: [{name: e, lan: l, addresses: [1.2.3.4/8]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := ParseTopology("fuzz.yaml", data)
		if err != nil {
			return
		}
		// Anything that validates must survive a round trip.
		b, err := topo.Marshal()
		require.NoError(t, err)
		_, err = ParseTopology("again.yaml", b)
		require.NoError(t, err)
	})
}
