package graph

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"strings"
)

// SVGOptions tune the SVG rendering.
type SVGOptions struct {
	// Standalone adds the XML declaration and the title line, for files.
	// The page inlines the drawing without them.
	Standalone bool
}

// svgStyle is the drawing's stylesheet. The page overrides the state
// classes (master, backup, down...) it sets on node groups.
const svgStyle = `
.halab-graph { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; }
.halab-graph .title { font-size: 15px; font-weight: bold; fill: #222; }
.halab-graph .box { fill: #fff; stroke: #555; stroke-width: 1.5; rx: 7; }
.halab-graph .role-client .box { fill: #eef4ff; stroke: #4a6fb5; }
.halab-graph .role-router .box { fill: #f1f1f1; stroke: #777; }
.halab-graph .role-director .box { fill: #fff4e5; stroke: #c77d12; }
.halab-graph .role-proxy .box { fill: #eaf7ee; stroke: #2f8a4c; }
.halab-graph .role-balancer .box { fill: #f3ecfa; stroke: #7a4bb0; }
.halab-graph .role-app .box { fill: #fdf0f0; stroke: #b04b4b; }
.halab-graph .name { font-size: 14px; font-weight: bold; fill: #111; }
.halab-graph .role { font-size: 10px; fill: #666; }
.halab-graph .status { font-size: 10px; fill: #333; }
.halab-graph .bus { stroke: #333; stroke-width: 4; stroke-linecap: round; }
.halab-graph .buslabel { font-size: 12px; fill: #333; }
.halab-graph .wire line, .halab-graph .link line { stroke: #555; stroke-width: 1.5; }
.halab-graph .addr { font-size: 10px; fill: #444; }
.halab-graph .wire.down line { stroke: #d33; stroke-dasharray: 4 3; }
`

// WriteSVG renders the layout as SVG. Elements carry ids and data
// attributes the page uses to show live state: node groups are
// id="node-NAME" (with a .badges group and a .status text to fill), wires
// id="wire-NODE-IFACE", buses id="bus-LAN", links id="link-NAME".
func WriteSVG(w io.Writer, ly *Layout, opts SVGOptions) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	e := html.EscapeString
	if opts.Standalone {
		p("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	}
	p(`<svg xmlns="http://www.w3.org/2000/svg" class="halab-graph" viewBox="0 0 %d %d" width="%d" height="%d" data-lab="%s">`+"\n",
		ly.Width, ly.Height, ly.Width, ly.Height, e(ly.Name))
	p("<style>%s</style>\n", svgStyle)
	p(`<rect x="0" y="0" width="%d" height="%d" fill="#fcfcfa"/>`+"\n", ly.Width, ly.Height)
	if opts.Standalone {
		p(`<text class="title" x="%d" y="%d">lab %s</text>`+"\n", marginX/2, titleH-6, e(ly.Name))
	}
	for _, b := range ly.Buses {
		p(`<g id="bus-%s" data-lan="%s"><line class="bus" x1="%d" y1="%d" x2="%d" y2="%d"/>`,
			e(b.Name), e(b.Name), b.X1, b.Y, b.X2, b.Y)
		label := b.Name
		if b.Subnet != "" {
			label += " " + b.Subnet
		}
		p(`<text class="buslabel" x="%d" y="%d">%s</text></g>`+"\n", b.X2+8, b.Y+4, e(label))
	}
	for _, l := range ly.Links {
		p(`<g class="link" id="link-%s" data-link="%s"><line x1="%d" y1="%d" x2="%d" y2="%d"/>`,
			e(l.Name), e(l.Name), l.X1, l.Y1, l.X2, l.Y2)
		p(`<text class="addr" x="%d" y="%d" text-anchor="middle">%s</text></g>`+"\n",
			(l.X1+l.X2)/2, (l.Y1+l.Y2)/2-4, e(l.Name))
	}
	for _, wi := range ly.Wires {
		p(`<g class="wire" id="wire-%s-%s" data-node="%s" data-iface="%s"><line x1="%d" y1="%d" x2="%d" y2="%d"/>`,
			e(wi.Node), e(wi.Iface), e(wi.Node), e(wi.Iface), wi.X, wi.Y1, wi.X, wi.Y2)
		label := wi.Iface
		if len(wi.Addresses) > 0 {
			label += " " + strings.Join(wi.Addresses, " ")
		}
		// Labels of wires leaving downwards sit under the box; those of
		// wires leaving upwards sit under their bus, which keeps the space
		// right above a box free for the page's VIP badges.
		ly := wi.Y1 + 14
		if wi.Y2 < wi.Y1 {
			ly = wi.Y2 + 14
		}
		p(`<text class="addr" x="%d" y="%d">%s</text></g>`+"\n", wi.X+5, ly, e(label))
	}
	for _, b := range ly.Nodes {
		role := b.Role
		if role == "" {
			role = "node"
		}
		p(`<g class="node role-%s" id="node-%s" data-node="%s">`, e(role), e(b.Name), e(b.Name))
		p(`<title>%s (%s)</title>`, e(b.Name), e(role))
		p(`<rect class="box" x="%d" y="%d" width="%d" height="%d" rx="7"/>`, b.X, b.Y, b.W, b.H)
		p(`<text class="name" x="%d" y="%d">%s</text>`, b.X+10, b.Y+19, e(b.Name))
		p(`<text class="role" x="%d" y="%d">%s</text>`, b.X+10, b.Y+33, e(role))
		p(`<text class="status" x="%d" y="%d"></text>`, b.X+10, b.Y+49)
		p(`<g class="badges" transform="translate(%d,%d)"></g>`, b.X+b.W, b.Y)
		p("</g>\n")
	}
	p("</svg>\n")
	return bw.Flush()
}

// SVG renders the layout as an SVG string (see WriteSVG).
func SVG(ly *Layout, opts SVGOptions) string {
	var b strings.Builder
	_ = WriteSVG(&b, ly, opts)
	return b.String()
}
