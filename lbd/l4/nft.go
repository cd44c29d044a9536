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

// Datapath is lbd's nftables table in one network namespace: a prerouting
// and an output nat chain dispatch new TCP connections to VIP:port through a
// verdict map to one chain per virtual service, which DNATs them to a real
// server. Safe for concurrent use.
type Datapath struct {
	mu       sync.Mutex
	conn     *nftables.Conn
	table    *nftables.Table
	services *nftables.Set
	vs       []*vsState
}

type vsState struct {
	spec  ServiceSpec
	names vsNames
	chain *nftables.Chain
	sets  vsSets
	slots []netip.AddrPort
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
	return &Datapath{
		conn:  conn,
		table: &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4},
	}, nil
}

// Table is the name of lbd's table.
func (d *Datapath) Table() string { return d.table.Name }

// Program replaces lbd's whole table, atomically, with the given virtual
// services; backends[i] are the real servers initially in service i. A table
// of the same name left by an lbd that could not clean up is replaced.
func (d *Datapath) Program(specs []ServiceSpec, backends [][]Backend) error {
	if len(backends) != len(specs) {
		return fmt.Errorf("l4: %d services but %d backend lists", len(specs), len(backends))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.conn

	// Replace a leftover (from an lbd that was SIGKILLed) in the same
	// transaction: create-if-absent, delete, create.
	c.AddTable(d.table)
	c.DelTable(d.table)
	c.AddTable(d.table)

	vs := make([]*vsState, len(specs))
	for i, spec := range specs {
		st := &vsState{spec: spec, names: namesFor(i)}
		st.chain = c.AddChain(&nftables.Chain{Name: st.names.chain, Table: d.table})
		if err := d.addServiceSets(st); err != nil {
			return err
		}
		vs[i] = st
	}

	d.services = &nftables.Set{Table: d.table, Name: "services", IsMap: true,
		KeyType: typeAddrPort, DataType: nftables.TypeVerdict, Concatenation: true}
	var elems []nftables.SetElement
	for _, st := range vs {
		elems = append(elems, nftables.SetElement{Key: encodeAddrPort(st.spec.VIP),
			VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: st.names.chain}})
	}
	if err := c.AddSet(d.services, elems); err != nil {
		return fmt.Errorf("l4: services map: %w", err)
	}
	for _, hook := range []*nftables.ChainHook{nftables.ChainHookPrerouting, nftables.ChainHookOutput} {
		name := "prerouting"
		if hook == nftables.ChainHookOutput {
			name = "output"
		}
		ch := c.AddChain(&nftables.Chain{Name: name, Table: d.table, Type: nftables.ChainTypeNAT,
			Hooknum: hook, Priority: nftables.ChainPriorityNATDest})
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

func (d *Datapath) addServiceSets(st *vsState) error {
	c := d.conn
	st.sets.slots = &nftables.Set{Table: d.table, Name: st.names.slots, IsMap: true,
		KeyType: nftables.TypeInteger, KeyByteOrder: binaryutil.NativeEndian, DataType: typeAddrPort}
	if err := c.AddSet(st.sets.slots, nil); err != nil {
		return fmt.Errorf("l4: %s slots map: %w", st.spec, err)
	}
	if st.spec.Persistence <= 0 {
		return nil
	}
	st.sets.alive = &nftables.Set{Table: d.table, Name: st.names.alive,
		KeyType: typeAddrPort, Concatenation: true}
	if err := c.AddSet(st.sets.alive, nil); err != nil {
		return fmt.Errorf("l4: %s alive set: %w", st.spec, err)
	}
	st.sets.persist = &nftables.Set{Table: d.table, Name: st.names.persist, IsMap: true,
		KeyType: nftables.TypeIPAddr, DataType: typeAddrPort,
		HasTimeout: true, Timeout: st.spec.Persistence, Dynamic: true, Size: 65535}
	if err := c.AddSet(st.sets.persist, nil); err != nil {
		return fmt.Errorf("l4: %s persistence map: %w", st.spec, err)
	}
	return nil
}

// fillService queues the contents of one service's chain, slots map and
// alive set for the given backends (the chain and sets are empty).
func (d *Datapath) fillService(st *vsState, backends []Backend) error {
	c := d.conn
	slots := Slots(st.spec.Algo, backends)
	if len(slots) > 0 {
		elems := make([]nftables.SetElement, len(slots))
		for i, s := range slots {
			elems[i] = nftables.SetElement{Key: encodeSlot(i), Val: encodeAddrPort(s)}
		}
		if err := c.SetAddElements(st.sets.slots, elems); err != nil {
			return fmt.Errorf("l4: %s slots: %w", st.spec, err)
		}
		if st.sets.alive != nil {
			var alive []nftables.SetElement
			seen := map[netip.AddrPort]bool{}
			for _, s := range slots {
				if !seen[s] {
					seen[s] = true
					alive = append(alive, nftables.SetElement{Key: encodeAddrPort(s)})
				}
			}
			if err := c.SetAddElements(st.sets.alive, alive); err != nil {
				return fmt.Errorf("l4: %s alive: %w", st.spec, err)
			}
		}
	}
	for _, exprs := range vsRules(st.spec, len(slots), st.sets) {
		c.AddRule(&nftables.Rule{Table: d.table, Chain: st.chain, Exprs: exprs})
	}
	st.slots = slots
	return nil
}

// SetBackends puts exactly the given real servers in service i's rotation, in
// one netlink transaction: the service's chain, slots map and alive set are
// rewritten together, nothing else in the table or the namespace is touched,
// and established connections keep their real server (conntrack). It reports
// whether the scheduling table changed.
func (d *Datapath) SetBackends(i int, backends []Backend) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < 0 || i >= len(d.vs) {
		return false, fmt.Errorf("l4: no virtual service %d", i)
	}
	st := d.vs[i]
	if slots := Slots(st.spec.Algo, backends); slices.Equal(slots, st.slots) {
		return false, nil
	}
	c := d.conn
	c.FlushChain(st.chain)
	c.FlushSet(st.sets.slots)
	if st.sets.alive != nil {
		c.FlushSet(st.sets.alive)
	}
	if err := d.fillService(st, backends); err != nil {
		return false, err
	}
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("l4: update %s: %w", st.spec, err)
	}
	return true, nil
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
