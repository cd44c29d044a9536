package l4

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// DefaultTable is the name of lbd's table (family ip).
const DefaultTable = "halab_lbd"

// Datapath is lbd's nftables table in one network namespace (its layout is
// described in nft_rules.go): a prerouting and an output nat chain dispatch
// new TCP connections to VIP:port through a verdict map to one chain per
// virtual service, which picks a real server and DNATs. Safe for concurrent
// use.
type Datapath struct {
	mu       sync.Mutex
	conn     *nftables.Conn
	table    *nftables.Table
	services *nftables.Set
	vs       []*vsState
}

type vsState struct {
	spec    ServiceSpec
	names   vsNames
	chain   *nftables.Chain
	index   map[netip.AddrPort]int // real server -> j
	persist []*nftables.Set        // per real server; nil without persistence
	live    []bool                 // per real server: in the rotation
	slots   []netip.AddrPort       // current scheduling table
}

// DatapathOptions say where lbd's table lives.
type DatapathOptions struct {
	// NetNSFd is an open network namespace file descriptor; 0 means the
	// namespace of the calling thread (lbd running inside its node).
	NetNSFd int
	// Table is the table name; DefaultTable if empty.
	Table string
}

// OpenDatapath connects to nftables in the chosen namespace. Nothing is
// programmed until Program.
func OpenDatapath(o DatapathOptions) (*Datapath, error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if o.NetNSFd != 0 {
		opts = append(opts, nftables.WithNetNSFd(o.NetNSFd))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("l4: nftables netlink: %w", err)
	}
	name := o.Table
	if name == "" {
		name = DefaultTable
	}
	return &Datapath{conn: conn, table: &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}}, nil
}

// Table is the name of lbd's table.
func (d *Datapath) Table() string { return d.table.Name }

// Program replaces lbd's whole table, atomically, with the given virtual
// services; backends[i] are the real servers initially in service i's
// rotation. A table of the same name left by an lbd that could not clean up
// (SIGKILL) is replaced in the same transaction.
func (d *Datapath) Program(specs []ServiceSpec, backends [][]Backend) error {
	if len(backends) != len(specs) {
		return fmt.Errorf("l4: %d services but %d backend lists", len(specs), len(backends))
	}
	for i, spec := range specs {
		if err := checkBackends(spec, backends[i]); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.conn
	c.AddTable(d.table) // create if absent,
	c.DelTable(d.table) // so that this delete cannot fail,
	c.AddTable(d.table) // then start afresh.

	vs := make([]*vsState, len(specs))
	var refresh *nftables.Chain
	for i, spec := range specs {
		if len(spec.Reals) == 0 {
			for _, b := range backends[i] {
				spec.Reals = append(spec.Reals, b.Addr)
			}
		}
		st, err := d.addService(i, spec)
		if err != nil {
			return err
		}
		for _, p := range st.persist {
			if refresh == nil {
				refresh = c.AddChain(&nftables.Chain{Name: "persistence", Table: d.table, Type: nftables.ChainTypeFilter,
					Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
			}
			c.AddRule(&nftables.Rule{Table: d.table, Chain: refresh, Exprs: refreshExprs(spec, p)})
		}
		vs[i] = st
	}

	d.services = &nftables.Set{Table: d.table, Name: "services", IsMap: true,
		KeyType: typeAddrPort, DataType: nftables.TypeVerdict, Concatenation: true}
	var elems []nftables.SetElement
	for _, st := range vs {
		elems = append(elems, nftables.SetElement{Key: encodeAddrPort(st.spec.VIP),
			VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: st.names.chain()}})
	}
	if err := c.AddSet(d.services, elems); err != nil {
		return fmt.Errorf("l4: services map: %w", err)
	}
	for _, base := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"prerouting", nftables.ChainHookPrerouting}, {"output", nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{Name: base.name, Table: d.table, Type: nftables.ChainTypeNAT,
			Hooknum: base.hook, Priority: nftables.ChainPriorityNATDest})
		c.AddRule(&nftables.Rule{Table: d.table, Chain: ch, Exprs: dispatchExprs(d.services)})
	}
	for i, st := range vs {
		if err := d.fillService(st, backends[i]); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("l4: program table ip %s: %w", d.table.Name, err)
	}
	d.vs = vs
	return nil
}

// addService queues the chains and sets of virtual service i that do not
// change with health: one chain (and persistence set) per real server.
func (d *Datapath) addService(i int, spec ServiceSpec) (*vsState, error) {
	c := d.conn
	st := &vsState{spec: spec, names: namesFor(i), index: map[netip.AddrPort]int{},
		live: make([]bool, len(spec.Reals))}
	st.chain = c.AddChain(&nftables.Chain{Name: st.names.chain(), Table: d.table})
	for j, addr := range spec.Reals {
		st.index[addr] = j
		var p *nftables.Set
		if spec.Persistence > 0 {
			p = &nftables.Set{Table: d.table, Name: st.names.persist(j), KeyType: nftables.TypeIPAddr,
				HasTimeout: true, Timeout: spec.Persistence, Dynamic: true, Size: 65535}
			if err := c.AddSet(p, nil); err != nil {
				return nil, fmt.Errorf("l4: %s persistence set: %w", spec, err)
			}
			st.persist = append(st.persist, p)
		}
		ch := c.AddChain(&nftables.Chain{Name: st.names.real(j), Table: d.table})
		for _, r := range realRules(addr, p) {
			c.AddRule(&nftables.Rule{Table: d.table, Chain: ch, Exprs: r})
		}
	}
	return st, nil
}

// fillService queues the rules of a service's chain and the contents of its
// slots map for the given backends (both are empty).
func (d *Datapath) fillService(st *vsState, backends []Backend) error {
	c := d.conn
	slots := Slots(st.spec.Algo, backends)
	live := make([]bool, len(st.spec.Reals))
	var slotMap *nftables.Set
	if len(slots) > 0 {
		// An anonymous map, bound to the scheduling rule: flushing the
		// chain frees it, and nft lists it inline.
		slotMap = &nftables.Set{Table: d.table, Anonymous: true, Constant: true, IsMap: true,
			KeyType: nftables.TypeInteger, KeyByteOrder: binaryutil.BigEndian, DataType: nftables.TypeVerdict}
		elems := make([]nftables.SetElement, len(slots))
		for k, s := range slots {
			j := st.index[s]
			live[j] = true
			elems[k] = nftables.SetElement{Key: encodeSlot(k),
				VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: st.names.real(j)}}
		}
		if err := c.AddSet(slotMap, elems); err != nil {
			return fmt.Errorf("l4: %s slots: %w", st.spec, err)
		}
	}
	var lr []liveReal
	for j, ok := range live {
		if !ok {
			if st.live[j] && st.persist != nil {
				c.FlushSet(st.persist[j]) // its clients are scheduled afresh
			}
			continue
		}
		l := liveReal{chain: st.names.real(j)}
		if st.persist != nil {
			l.persist = st.persist[j]
		}
		lr = append(lr, l)
	}
	for _, exprs := range vsRules(st.spec, len(slots), slotMap, lr) {
		c.AddRule(&nftables.Rule{Table: d.table, Chain: st.chain, Exprs: exprs})
	}
	st.slots, st.live = slots, live
	return nil
}

// SetBackends puts exactly the given real servers in service i's rotation, in
// one netlink transaction: the service's chain is rewritten with a new
// scheduling map (and the persistence entries of real servers leaving the rotation
// dropped), nothing else in the table or the namespace is touched, and
// established connections keep their real server (conntrack). It reports
// whether anything changed.
func (d *Datapath) SetBackends(i int, backends []Backend) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < 0 || i >= len(d.vs) {
		return false, fmt.Errorf("l4: no virtual service %d", i)
	}
	st := d.vs[i]
	if err := checkBackends(st.spec, backends); err != nil {
		return false, err
	}
	if slots := Slots(st.spec.Algo, backends); slices.Equal(slots, st.slots) {
		return false, nil
	}
	c := d.conn
	c.FlushChain(st.chain)
	if err := d.fillService(st, backends); err != nil {
		return false, err
	}
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("l4: update %s: %w", st.spec, err)
	}
	return true, nil
}

// checkBackends validates a service before anything is queued on the
// connection (a queued message cannot be taken back).
func checkBackends(spec ServiceSpec, backends []Backend) error {
	if !spec.VIP.Addr().Is4() {
		return fmt.Errorf("l4: %s: IPv4 only", spec)
	}
	reals := map[netip.AddrPort]bool{}
	for _, r := range spec.Reals {
		if reals[r] || !r.Addr().Is4() {
			return fmt.Errorf("l4: %s: real server %s listed twice or not IPv4", spec, r)
		}
		reals[r] = true
	}
	for _, b := range backends {
		if len(spec.Reals) > 0 && !reals[b.Addr] {
			return fmt.Errorf("l4: %s has no real server %s", spec, b.Addr)
		}
		if !b.Addr.Addr().Is4() {
			return fmt.Errorf("l4: %s: real server %s is not IPv4", spec, b.Addr)
		}
	}
	return nil
}

// Close deletes lbd's table and closes the netlink connection.
func (d *Datapath) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	if d.vs != nil {
		d.conn.DelTable(d.table)
		if ferr := d.conn.Flush(); ferr != nil && !errors.Is(ferr, unix.ENOENT) {
			err = fmt.Errorf("l4: delete table ip %s: %w", d.table.Name, ferr)
		}
		d.vs = nil
	}
	return errors.Join(err, d.conn.CloseLasting())
}
