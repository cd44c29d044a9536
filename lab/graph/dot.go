package graph

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteDot renders the layout as Graphviz dot. Tiers are ranks (rank=same
// subgraphs, top to bottom), LANs are small bus nodes, and every node
// carries the position of the SVG layout (pos, in points, y upwards), so
// `neato -n2` reproduces the same drawing while `dot` lays it out by rank.
func WriteDot(w io.Writer, ly *Layout) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	q := strconv.Quote
	pos := func(x, y int) string { return q(fmt.Sprintf("%d,%d!", x, ly.Height-y)) }
	p("graph %s {\n", q(ly.Name))
	p("  graph [rankdir=TB, splines=ortho, nodesep=0.6, ranksep=0.5, label=%s, labelloc=t, fontname=\"DejaVu Sans\"];\n", q("lab "+ly.Name))
	p("  node [fontname=\"DejaVu Sans\", fontsize=11];\n")
	p("  edge [fontname=\"DejaVu Sans\", fontsize=9];\n")
	colors := map[string]string{"client": "#eef4ff", "router": "#f1f1f1", "director": "#fff4e5",
		"proxy": "#eaf7ee", "balancer": "#f3ecfa", "app": "#fdf0f0"}
	for i, tier := range ly.Tiers {
		p("  subgraph tier%d {\n    rank=same;\n", i)
		for _, name := range tier {
			b := box(ly, name)
			role := b.Role
			if role == "" {
				role = "node"
			}
			fill := colors[b.Role]
			if fill == "" {
				fill = "#ffffff"
			}
			p("    %s [shape=box, style=\"rounded,filled\", fillcolor=%s, label=%s, width=%.2f, height=%.2f, pos=%s];\n",
				q(name), q(fill), q(name+"\n"+role), float64(b.W)/72, float64(b.H)/72, pos(b.CenterX(), b.Y+b.H/2))
		}
		p("  }\n")
	}
	for _, b := range ly.Buses {
		label := b.Name
		if b.Subnet != "" {
			label += "\n" + b.Subnet
		}
		p("  %s [shape=box, style=filled, fillcolor=\"#333333\", fontcolor=white, height=0.25, width=%.2f, label=%s, pos=%s];\n",
			q("lan:"+b.Name), float64(b.X2-b.X1)/72, q(label), pos((b.X1+b.X2)/2, b.Y))
	}
	for _, wi := range ly.Wires {
		if wi.LAN == "" {
			continue
		}
		// Edges run top to bottom so that dot ranks buses between tiers.
		a, b := q(wi.Node), q("lan:"+wi.LAN)
		if wi.Y2 < wi.Y1 {
			a, b = b, a
		}
		p("  %s -- %s [xlabel=%s];\n", a, b, q(wi.Iface+" "+strings.Join(wi.Addresses, " ")))
	}
	for _, l := range ly.Links {
		p("  %s -- %s [xlabel=%s, taillabel=%s, headlabel=%s];\n", q(l.A), q(l.B), q(l.Name), q(l.AIface), q(l.BIface))
	}
	p("}\n")
	return bw.Flush()
}

func box(ly *Layout, name string) Box {
	for _, b := range ly.Nodes {
		if b.Name == name {
			return b
		}
	}
	return Box{Name: name}
}
