// Package ui serves the teaching view of a running lab: one self-contained
// page (embedded assets, no CDN) showing the topology drawn by lab/graph,
// VIP ownership, VRRP states and priorities, daemons, a traffic probe from
// the client node, a live packet ticker fed by lab/capture and a timeline
// of state changes and faults; and buttons that inject faults.
//
// Data flows one way: a poller samples the lab every PollInterval
// (state.go, daemons.go), diffs consecutive samples into timeline events
// (diff.go) and pushes both to Server-Sent Events subscribers (hub.go).
// Actions go through a fault engine (package faults, the one scenario
// steps use; `lab run --ui` hands the page the run's engine) and probes
// (probe.go) add their own events. The timeline (timeline.go) records what
// the HTML report draws, and reports.TimelineSVG draws it for both.
//
// The HTTP API:
//
//	GET  /                  the page
//	GET  /api/state         the latest sample (JSON)
//	GET  /api/graph.svg     the topology drawing (the layout of `lab graph`)
//	GET  /api/timeline      the timeline as an HTML fragment
//	GET  /api/events        SSE: "state", "event" and "probe" messages
//	GET  /api/packets       SSE: "packet" messages (?node=N&filter=EXPR&sent=1)
//	POST /api/action        a fault (token required)
//	POST /api/probe         start or stop the probe (token required)
//
// Writes need the token Serve generates (Authorization: Bearer TOKEN, or a
// token form field). The server listens on loopback unless told otherwise.
package ui
