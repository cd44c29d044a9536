package lbd

import (
	"net/netip"
	"sort"
	"sync"
)

// fwrrTree stands in for HAProxy's eb32 trees: servers ordered by key, and
// by insertion order among equal keys (ebtree keeps duplicates FIFO).
type fwrrTree struct {
	nodes []*Server
}

func (t *fwrrTree) insert(s *Server, key uint32, seq uint64) {
	s.lb.key, s.lb.seq, s.lb.tree = key, seq, t
	i := sort.Search(len(t.nodes), func(i int) bool {
		n := t.nodes[i]
		return n.lb.key > key || (n.lb.key == key && n.lb.seq > seq)
	})
	t.nodes = append(t.nodes, nil)
	copy(t.nodes[i+1:], t.nodes[i:])
	t.nodes[i] = s
}

func (t *fwrrTree) remove(s *Server) {
	for i, n := range t.nodes {
		if n == s {
			t.nodes = append(t.nodes[:i], t.nodes[i+1:]...)
			return
		}
	}
}

func (t *fwrrTree) first() *Server {
	if len(t.nodes) == 0 {
		return nil
	}
	return t.nodes[0]
}

// fwrrGroup is one server group (active or backup) of the fast weighted
// round robin: a "current" tree ordered by next position, and two weight
// trees ("init" and "next") swapped at each turn of the wheel.
type fwrrGroup struct {
	curr       fwrrTree
	t0, t1     fwrrTree
	init, next *fwrrTree
	currPos    int
	currWeight int
	nextWeight int
}

// FWRR reproduces HAProxy's "balance roundrobin" (lb_fwrr.c): the order in
// which servers are picked for given weights is the one HAProxy produces,
// including after servers go down and come back.
type FWRR struct {
	mu      sync.Mutex
	servers []*Server
	act     fwrrGroup
	bck     fwrrGroup
	member  map[*Server]bool
	srvAct  int
	srvBck  int
	fbck    *Server
	seq     uint64
}

func newFWRR(servers []*Server) *FWRR {
	f := &FWRR{servers: servers, member: map[*Server]bool{}}
	tot := [2]int{}
	for _, s := range servers {
		s.lb = lbNode{eweight: s.Weight * beWeightScale}
		if f.usable(s) {
			tot[b2i(s.Backup)] += s.lb.eweight
		}
	}
	for i, g := range []*fwrrGroup{&f.act, &f.bck} {
		g.currPos, g.currWeight, g.nextWeight = tot[i], tot[i], tot[i]
		g.init, g.next = &g.t0, &g.t1
	}
	for _, s := range servers {
		if !f.usable(s) {
			continue
		}
		f.member[s] = true
		if s.Backup {
			f.srvBck++
		} else {
			f.srvAct++
		}
		f.queueByWeight(f.group(s).init, s)
	}
	f.fbck = f.firstBackup()
	return f
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *FWRR) usable(s *Server) bool { return s.lb.eweight > 0 && s.Up() }

func (f *FWRR) group(s *Server) *fwrrGroup {
	if s.Backup {
		return &f.bck
	}
	return &f.act
}

func (f *FWRR) firstBackup() *Server {
	for _, s := range f.servers {
		if s.Backup && f.member[s] {
			return s
		}
	}
	return nil
}

func (f *FWRR) nextSeq() uint64 {
	f.seq++
	return f.seq
}

func (f *FWRR) queueByWeight(t *fwrrTree, s *Server) {
	t.insert(s, uint32(srvEWeightMax-s.lb.eweight), f.nextSeq())
}

func (f *FWRR) dequeue(s *Server) {
	if s.lb.tree != nil {
		s.lb.tree.remove(s)
	}
}

// queue places s in the current tree at its next position, or in the next
// tree when that position lies beyond the current turn.
func (f *FWRR) queue(s *Server) {
	g := f.group(s)
	switch {
	case !f.member[s]:
		s.lb.tree = nil
	case s.lb.eweight <= 0 || s.lb.npos >= 2*g.currWeight || s.lb.npos >= g.currWeight+g.nextWeight:
		s.lb.npos -= g.currWeight
		f.queueByWeight(g.next, s)
	default:
		key := uint32(srvUWRange*s.lb.npos + (srvEWeightMax+s.lb.rweight-s.lb.eweight)/beWeightScale)
		g.curr.insert(s, key, f.nextSeq())
	}
}

// prepare adjusts npos for a server being taken out of the tree it is in.
func (f *FWRR) prepare(s *Server) {
	g := f.group(s)
	switch s.lb.tree {
	case g.init:
		s.lb.npos, s.lb.rweight = 0, 0
	case g.next:
		s.lb.npos += g.currWeight
	case nil:
		s.lb.npos = g.currPos
	}
}

func (f *FWRR) switchTrees(g *fwrrGroup) {
	g.init, g.next = g.next, g.init
	g.currWeight = g.nextWeight
	g.currPos = g.currWeight
}

func (f *FWRR) fromGroup(g *fwrrGroup) *Server {
	s := g.curr.first()
	if s == nil || s.lb.npos > g.currPos {
		if s2 := g.init.first(); s2 != nil {
			s = s2
			s.lb.npos, s.lb.rweight = 0, 0
		}
	}
	return s
}

func (f *FWRR) updatePosition(g *fwrrGroup, s *Server) {
	ew := s.lb.eweight
	if s.lb.npos == 0 {
		s.lb.npos = g.currPos
	}
	s.lb.lpos = s.lb.npos
	s.lb.npos += g.nextWeight / ew
	s.lb.rweight += g.nextWeight % ew
	if s.lb.rweight >= ew {
		s.lb.rweight -= ew
		s.lb.npos++
	}
}

// Pick implements Balancer.
func (f *FWRR) Pick(_ netip.Addr, avoid *Server) *Server {
	f.mu.Lock()
	defer f.mu.Unlock()
	var g *fwrrGroup
	switch {
	case f.srvAct > 0:
		g = &f.act
	case f.fbck != nil:
		return f.fbck
	case f.srvBck > 0:
		g = &f.bck
	default:
		return nil
	}
	var (
		srv, avoided *Server
		full         []*Server
		switched     bool
	)
	for {
		if g.currWeight == 0 {
			g.currPos, g.currWeight = g.nextWeight, g.nextWeight
		}
		for {
			srv = f.fromGroup(g)
			if srv != nil {
				break
			}
			if switched {
				srv = avoided
				break
			}
			switched = true
			f.switchTrees(g)
		}
		if srv == nil {
			break
		}
		f.updatePosition(g, srv)
		f.dequeue(srv)
		g.currPos++
		if srv != avoid || avoided != nil {
			break
		}
		avoided = srv
		full = append(full, srv)
	}
	if srv != nil {
		f.queue(srv)
	}
	for _, s := range full {
		if s == srv {
			continue
		}
		if switched {
			f.queueByWeight(g.init, s)
		} else {
			f.queue(s)
		}
	}
	return srv
}

// SetUp implements Balancer (fwrr_set_server_status_up).
func (f *FWRR) SetUp(s *Server) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.member[s] || s.lb.eweight <= 0 {
		return
	}
	f.member[s] = true
	g := f.group(s)
	g.nextWeight += s.lb.eweight
	if s.Backup {
		f.srvBck++
		f.fbck = f.firstBackup()
	} else {
		f.srvAct++
	}
	f.prepare(s)
	s.lb.npos = g.currPos + (g.nextWeight+g.currWeight-g.currPos)/s.lb.eweight
	f.queue(s)
}

// SetDown implements Balancer (fwrr_set_server_status_down).
func (f *FWRR) SetDown(s *Server) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.member[s] {
		return
	}
	delete(f.member, s)
	g := f.group(s)
	g.nextWeight -= s.lb.eweight
	if s.Backup {
		f.srvBck--
		f.fbck = f.firstBackup()
	} else {
		f.srvAct--
	}
	f.dequeue(s)
	s.lb.tree = nil
}

// Release implements Balancer; round robin does not track connections.
func (f *FWRR) Release(*Server) {}
