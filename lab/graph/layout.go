// Package graph draws a lab topology: an automatic layout by role (clients,
// routers, directors, proxies, balancers and apps in tiers from top to
// bottom, LANs as horizontal buses between the tiers they join,
// point-to-point links as lines), rendered as SVG in pure Go or as Graphviz
// dot. Nothing is placed by hand: the same topology always gives the same
// drawing, and `lab graph` and `lab ui` share it.
package graph

import (
	"net/netip"
	"slices"
	"sort"

	"halab/lab"
)

// Geometry of the drawing, in SVG user units.
const (
	NodeW     = 168 // width of a node box
	NodeH     = 58  // height of a node box
	gapX      = 56  // horizontal space between boxes of a tier
	marginX   = 40  // left and right margins
	marginTop = 24  // space above the first tier
	busGap    = 34  // vertical distance between stacked buses
	bandPad   = 40  // space between a tier and the first bus below it
	busOver   = 24  // how far a bus reaches beyond its outermost wires
	titleH    = 28  // height of the title line
	labelRoom = 150 // room right of the nodes for bus labels
)

// roleOrder ranks roles from the client side (top) to the app side
// (bottom). Unknown roles sit between routers and directors.
var roleOrder = map[string]int{
	"client":   0,
	"router":   1,
	"":         2,
	"director": 3,
	"proxy":    4,
	"balancer": 5,
	"app":      6,
}

// Rank returns the tier rank of a role: lower ranks are drawn higher.
func Rank(role string) int {
	if r, ok := roleOrder[role]; ok {
		return r
	}
	return roleOrder[""]
}

// Layout is a placed topology.
type Layout struct {
	Name          string
	Width, Height int
	Nodes         []Box  // in topology order
	Buses         []Bus  // LANs
	Wires         []Wire // node interface -> bus or link
	Links         []Link // point-to-point links
	Tiers         [][]string
}

// Box is a node's rectangle; (X, Y) is its top-left corner.
type Box struct {
	Name, Role string
	Tier       int
	X, Y, W, H int
}

// CenterX returns the horizontal center of the box.
func (b Box) CenterX() int { return b.X + b.W/2 }

// Bus is a LAN drawn as a horizontal line at Y from X1 to X2.
type Bus struct {
	Name   string
	Subnet string // the first IPv4 (else IPv6) prefix seen on the LAN, masked
	Y      int
	X1, X2 int
}

// Wire joins a node interface to its bus (LAN set) or to its link's
// midpoint (Link set): a vertical segment from (X, Y1) on the box edge to
// (X, Y2).
type Wire struct {
	Node, Iface string
	LAN, Link   string
	Addresses   []string
	X, Y1, Y2   int
}

// Link is a point-to-point link drawn between its two interfaces.
type Link struct {
	Name           string
	A, B           string // node names
	AIface, BIface string
	X1, Y1, X2, Y2 int
}

// Compute places the topology. It never fails: nodes without interfaces
// are drawn alone, LANs without members are left out.
func Compute(t *lab.Topology) *Layout {
	ly := &Layout{Name: t.Name}
	// Tiers: distinct ranks in use, top to bottom.
	byRank := map[int][]lab.NodeSpec{}
	for _, n := range t.Nodes {
		r := Rank(n.Role)
		byRank[r] = append(byRank[r], n)
	}
	ranks := make([]int, 0, len(byRank))
	for r := range byRank {
		ranks = append(ranks, r)
	}
	sort.Ints(ranks)
	tierOf := map[string]int{}
	for i, r := range ranks {
		var names []string
		for _, n := range byRank[r] {
			tierOf[n.Name] = i
			names = append(names, n.Name)
		}
		ly.Tiers = append(ly.Tiers, names)
	}

	// LAN membership and the band (below which tier) each bus goes in.
	members := map[string][]string{}
	for _, n := range t.Nodes {
		for _, ifc := range n.Interfaces {
			if ifc.LAN != "" && !slices.Contains(members[ifc.LAN], n.Name) {
				members[ifc.LAN] = append(members[ifc.LAN], n.Name)
			}
		}
	}
	bandOf := map[string]int{}
	bands := make([][]string, len(ly.Tiers))
	for _, lan := range t.LANs {
		ms := members[lan.Name]
		if len(ms) == 0 {
			continue
		}
		top := len(ly.Tiers)
		for _, m := range ms {
			top = min(top, tierOf[m])
		}
		bandOf[lan.Name] = top
		bands[top] = append(bands[top], lan.Name)
	}

	// Order nodes within tiers: a stable barycenter pass over the LANs
	// they share with the tier above keeps wires short and uncrossed.
	order := orderTiers(t, ly.Tiers, tierOf)
	ly.Tiers = order

	// Vertical positions.
	width := 0
	for _, names := range ly.Tiers {
		width = max(width, len(names)*NodeW+(len(names)-1)*gapX)
	}
	contentW := width + 2*marginX
	ly.Width = contentW + labelRoom
	y := titleH + marginTop
	tierY := make([]int, len(ly.Tiers))
	busY := map[string]int{}
	for i := range ly.Tiers {
		tierY[i] = y
		y += NodeH
		if len(bands[i]) > 0 {
			y += bandPad
			for j, lan := range bands[i] {
				if j > 0 {
					y += busGap
				}
				busY[lan] = y
			}
			y += bandPad
		} else if i < len(ly.Tiers)-1 {
			y += bandPad
		}
	}
	ly.Height = y + marginTop/2

	// Boxes.
	boxes := map[string]*Box{}
	spec := map[string]lab.NodeSpec{}
	for _, n := range t.Nodes {
		spec[n.Name] = n
	}
	for i, names := range ly.Tiers {
		rowW := len(names)*NodeW + (len(names)-1)*gapX
		x := (contentW - rowW) / 2
		for _, name := range names {
			boxes[name] = &Box{Name: name, Role: spec[name].Role, Tier: i, X: x, Y: tierY[i], W: NodeW, H: NodeH}
			x += NodeW + gapX
		}
	}
	for _, n := range t.Nodes {
		ly.Nodes = append(ly.Nodes, *boxes[n.Name])
	}

	// Wires: interfaces leaving a box on the same side share its width.
	type end struct {
		node string
		ifc  lab.IfaceSpec
		down bool
	}
	var ends []end
	for _, n := range t.Nodes {
		for _, ifc := range n.Interfaces {
			down := true
			if ifc.LAN != "" {
				if by, ok := busY[ifc.LAN]; ok {
					down = by > tierY[tierOf[n.Name]]
				}
			} else if ifc.Link != "" {
				down = linkGoesDown(t, n.Name, ifc.Link, tierOf)
			}
			ends = append(ends, end{n.Name, ifc, down})
		}
	}
	linkEnds := map[string][]Wire{}
	for _, n := range t.Nodes {
		b := boxes[n.Name]
		for _, down := range []bool{true, false} {
			var side []end
			for _, e := range ends {
				if e.node == n.Name && e.down == down {
					side = append(side, e)
				}
			}
			for k, e := range side {
				x := b.X + b.W*(k+1)/(len(side)+1)
				w := Wire{Node: n.Name, Iface: e.ifc.Name, LAN: e.ifc.LAN, Link: e.ifc.Link, X: x}
				for _, a := range e.ifc.Addresses {
					w.Addresses = append(w.Addresses, a.Prefix.String())
				}
				if down {
					w.Y1 = b.Y + b.H
				} else {
					w.Y1 = b.Y
				}
				if e.ifc.LAN != "" {
					w.Y2 = busY[e.ifc.LAN]
				} else {
					w.Y2 = w.Y1 + sign(down)*bandPad/2
					linkEnds[e.ifc.Link] = append(linkEnds[e.ifc.Link], w)
				}
				ly.Wires = append(ly.Wires, w)
			}
		}
	}

	// Buses span their wires.
	for _, lan := range t.LANs {
		by, ok := busY[lan.Name]
		if !ok {
			continue
		}
		bus := Bus{Name: lan.Name, Y: by, X1: contentW, X2: 0}
		for _, w := range ly.Wires {
			if w.LAN == lan.Name {
				bus.X1 = min(bus.X1, w.X-busOver)
				bus.X2 = max(bus.X2, w.X+busOver)
				if bus.Subnet == "" {
					bus.Subnet = subnet(w.Addresses)
				}
			}
		}
		bus.X1 = max(bus.X1, marginX/2)
		bus.X2 = min(bus.X2, contentW-marginX/2)
		ly.Buses = append(ly.Buses, bus)
	}

	// Point-to-point links join their two wire ends.
	for _, lk := range t.Links {
		ws := linkEnds[lk.Name]
		if len(ws) != 2 {
			continue
		}
		ly.Links = append(ly.Links, Link{Name: lk.Name, A: ws[0].Node, B: ws[1].Node,
			AIface: ws[0].Iface, BIface: ws[1].Iface,
			X1: ws[0].X, Y1: ws[0].Y2, X2: ws[1].X, Y2: ws[1].Y2})
	}
	return ly
}

func sign(down bool) int {
	if down {
		return 1
	}
	return -1
}

// linkGoesDown reports whether node's end of a point-to-point link leaves
// the bottom of its box: its peer is in a lower tier, or in the same tier
// (links within a tier hang below it).
func linkGoesDown(t *lab.Topology, node, link string, tierOf map[string]int) bool {
	for _, n := range t.Nodes {
		if n.Name == node {
			continue
		}
		for _, ifc := range n.Interfaces {
			if ifc.Link == link {
				return tierOf[n.Name] >= tierOf[node]
			}
		}
	}
	return true
}

// subnet returns the masked prefix of the first IPv4 address (else the first
// address) in addrs.
func subnet(addrs []string) string {
	var first string
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			continue
		}
		if p.Addr().Is4() {
			return p.Masked().String()
		}
		if first == "" {
			first = p.Masked().String()
		}
	}
	return first
}

// orderTiers orders each tier's nodes by the mean position of the nodes
// they share a LAN or link with in the tiers above (a single barycenter
// sweep; ties keep topology order).
func orderTiers(t *lab.Topology, tiers [][]string, tierOf map[string]int) [][]string {
	nets := map[string][]string{} // node -> LANs and links
	for _, n := range t.Nodes {
		for _, ifc := range n.Interfaces {
			key := "lan:" + ifc.LAN
			if ifc.Link != "" {
				key = "link:" + ifc.Link
			}
			nets[n.Name] = append(nets[n.Name], key)
		}
	}
	pos := map[string]float64{}
	out := make([][]string, len(tiers))
	for i, names := range tiers {
		names = slices.Clone(names)
		bary := map[string]float64{}
		for k, name := range names {
			sum, cnt := 0.0, 0
			for j := 0; j < i; j++ {
				for _, other := range out[j] {
					if shares(nets[name], nets[other]) {
						sum += pos[other]
						cnt++
					}
				}
			}
			if cnt > 0 {
				bary[name] = sum / float64(cnt)
			} else {
				bary[name] = float64(k) / float64(max(1, len(names)-1))
			}
		}
		sort.SliceStable(names, func(a, b int) bool { return bary[names[a]] < bary[names[b]] })
		for k, name := range names {
			pos[name] = float64(k) / float64(max(1, len(names)-1))
		}
		out[i] = names
	}
	return out
}

func shares(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
