package ui

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"halab/lab"
	"halab/lab/capture"
)

// PacketLine is one packet of the ticker.
type PacketLine struct {
	Time  time.Time `json:"time"`
	Node  string    `json:"node"`
	Iface string    `json:"iface"`
	Proto string    `json:"proto"`
	Text  string    `json:"text"` // tcpdump-style, without node and time
}

// packetSub is a ticker subscriber with its own filter.
type packetSub struct {
	ch     chan PacketLine
	node   string
	filter capture.Filter
	// sent keeps only packets captured on the interface that sent them,
	// so a broadcast shows once rather than once per LAN member.
	sent bool
}

// ticker captures on every node interface while someone watches, and hands
// decoded packets to subscribers whose filter they pass.
type ticker struct {
	lab labView
	log *slog.Logger

	mu     sync.Mutex
	subs   map[*packetSub]struct{}
	cancel context.CancelFunc
	macs   map[string]string // node:iface -> MAC
}

func newTicker(l labView, log *slog.Logger) *ticker {
	return &ticker{lab: l, log: log, subs: map[*packetSub]struct{}{}}
}

// subscribe starts the captures when the first subscriber comes.
func (t *ticker) subscribe(ctx context.Context, s *packetSub) (func(), error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cancel == nil {
		if err := t.startLocked(ctx); err != nil {
			return nil, err
		}
	}
	t.subs[s] = struct{}{}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.subs, s)
		if len(t.subs) == 0 && t.cancel != nil {
			t.cancel()
			t.cancel = nil
		}
	}, nil
}

func (t *ticker) startLocked(parent context.Context) error {
	st, err := t.lab.Status()
	if err != nil {
		return err
	}
	var specs []capture.Spec
	t.macs = map[string]string{}
	out := make(chan capture.Packet, 1024)
	for _, n := range st {
		for _, ifc := range n.Interfaces {
			specs = append(specs, capture.Spec{Node: n.Name, Iface: ifc.Name, NetNS: lab.NetnsPath(t.lab.Name(), n.Name),
				Snaplen: 256, RingSize: 1 << 20, Discard: true, NoPromisc: true, Out: out, Logger: t.log})
			t.macs[n.Name+":"+ifc.Name] = ifc.MAC
		}
	}
	// The captures live as long as someone watches, not as long as the
	// request that started them.
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	g, err := capture.StartGroup(ctx, specs)
	if err != nil {
		cancel()
		return err
	}
	t.cancel = cancel
	macs := t.macs
	go func() {
		<-ctx.Done()
		_, _ = g.Stop()
	}()
	go func() {
		// Read until every capture is done, as capture.Spec.Out requires.
		done := make(chan struct{})
		go func() {
			for _, c := range g.Captures() {
				<-c.Done()
			}
			close(done)
		}()
		for {
			select {
			case p := <-out:
				t.dispatch(&p, macs)
			case <-done:
				return
			}
		}
	}()
	return nil
}

func (t *ticker) dispatch(p *capture.Packet, macs map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.subs) == 0 {
		return
	}
	var line *PacketLine
	sender := strings.EqualFold(p.SrcMAC.String(), macs[p.Node+":"+p.Iface])
	for s := range t.subs {
		if (s.node != "" && s.node != p.Node) || (s.sent && !sender) || !s.filter.Match(p) {
			continue
		}
		if line == nil {
			line = &PacketLine{Time: p.Time, Node: p.Node, Iface: p.Iface, Proto: protoOf(p), Text: capture.Format(p)}
		}
		select {
		case s.ch <- *line:
		default: // the page is behind: skip rather than slow the capture
		}
	}
}

func protoOf(p *capture.Packet) string {
	for _, pr := range []capture.Proto{capture.ProtoVRRP, capture.ProtoARP, capture.ProtoICMP, capture.ProtoTCP, capture.ProtoUDP, capture.ProtoIP6, capture.ProtoIP} {
		if p.Is(pr) {
			return string(pr)
		}
	}
	return "other"
}
