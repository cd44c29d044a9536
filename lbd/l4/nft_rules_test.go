package l4

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestEncodeSlot(t *testing.T) {
	assert.Equal(t, []byte{0, 0, 1, 2}, encodeSlot(258))
}

func TestEncodeAddrPort(t *testing.T) {
	assert.Equal(t, []byte{10, 0, 2, 11, 0x1f, 0x90, 0, 0}, encodeAddrPort(ap("10.0.2.11:8080")))
}

func TestNames(t *testing.T) {
	n := namesFor(3)
	assert.Equal(t, []string{"vs3", "vs3_rs1", "vs3_p1"}, []string{n.chain(), n.real(1), n.persist(1)})
}

func TestDispatchExprs(t *testing.T) {
	services := &nftables.Set{Name: "services", ID: 7}
	ex := dispatchExprs(services)
	last, ok := ex[len(ex)-1].(*expr.Lookup)
	require.True(t, ok)
	assert.Equal(t, "services", last.SetName)
	assert.True(t, last.IsDestRegSet)
	assert.Equal(t, uint32(0), last.DestRegister, "verdict register")
	assert.Contains(t, ex, expr.Any(&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{unix.IPPROTO_TCP}}))
}

func TestRealRules(t *testing.T) {
	rules := realRules(ap("10.0.2.11:8080"), nil)
	require.Len(t, rules, 1)
	assert.Equal(t, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regAddr},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Immediate{Register: regAddr, Data: []byte{10, 0, 2, 11}},
		&expr.Immediate{Register: regPort, Data: []byte{0x1f, 0x90}},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: regAddr, RegProtoMin: regPort, Specified: true},
	}, rules[0])
	p := &nftables.Set{Name: "vs0_p0", ID: 4}
	rules = realRules(ap("10.0.2.11:8080"), p)
	require.Len(t, rules, 1)
	d, ok := rules[0][1].(*expr.Dynset)
	require.True(t, ok)
	assert.Equal(t, dnatTo(ap("10.0.2.11:8080")), rules[0][2:])
	assert.Equal(t, uint32(unix.NFT_DYNSET_OP_UPDATE), d.Operation)
	assert.Equal(t, "vs0_p0", d.SetName)
	assert.Zero(t, d.SrcRegData, "a set, not a map: nothing but the client is stored")
}

func TestVSRules(t *testing.T) {
	slots := &nftables.Set{Name: "__map%d", ID: 1, Anonymous: true}
	vip := ap("10.0.0.100:80")
	sorry := ap("10.0.3.5:8080")
	persistent := []liveReal{{"vs0_rs0", &nftables.Set{Name: "vs0_p0"}}, {"vs0_rs2", &nftables.Set{Name: "vs0_p2"}}}
	plain := []liveReal{{chain: "vs0_rs0"}, {chain: "vs0_rs2"}}

	tests := []struct {
		name   string
		spec   ServiceSpec
		nslots int
		live   []liveReal
		check  func(t *testing.T, rules [][]expr.Any)
	}{
		{"rr", ServiceSpec{VIP: vip, Algo: AlgoRR}, 2, plain, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 1)
			assert.Equal(t, &expr.Numgen{Register: regAddr, Modulus: 2, Type: unix.NFT_NG_INCREMENTAL}, rules[0][0])
			assert.IsType(t, &expr.Byteorder{}, rules[0][1])
			assert.Equal(t, verdictLookup(slots, regAddr), rules[0][2])
		}},
		{"wrr uses the expanded table", ServiceSpec{VIP: vip, Algo: AlgoWRR}, 4, plain, func(t *testing.T, rules [][]expr.Any) {
			assert.Equal(t, uint32(4), rules[0][0].(*expr.Numgen).Modulus)
		}},
		{"sh", ServiceSpec{VIP: vip, Algo: AlgoSH}, 3, plain, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 1)
			h, ok := rules[0][1].(*expr.Hash)
			require.True(t, ok)
			assert.Equal(t, uint32(3), h.Modulus)
			assert.Equal(t, uint32(jhashSeed), h.Seed)
			assert.Equal(t, expr.HashTypeJenkins, h.Type)
		}},
		{"sorry", ServiceSpec{VIP: vip, Algo: AlgoRR, Sorry: sorry}, 0, nil, func(t *testing.T, rules [][]expr.Any) {
			assert.Equal(t, [][]expr.Any{dnatTo(sorry)}, rules)
		}},
		{"empty rejects", ServiceSpec{VIP: vip, Algo: AlgoRR}, 0, nil, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 1)
			assert.IsType(t, &expr.Reject{}, rules[0][0])
		}},
		{"persistence", ServiceSpec{VIP: vip, Algo: AlgoRR}, 2, persistent, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 3, "one rule per live real server, then scheduling")
			for i, want := range []string{"vs0_rs0", "vs0_rs2"} {
				assert.Equal(t, "vs0_p"+want[len(want)-1:], rules[i][1].(*expr.Lookup).SetName)
				assert.Equal(t, &expr.Verdict{Kind: expr.VerdictGoto, Chain: want}, rules[i][2])
			}
			assert.IsType(t, &expr.Numgen{}, rules[2][0])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, vsRules(tt.spec, tt.nslots, slots, tt.live))
		})
	}
}

func TestRefreshExprs(t *testing.T) {
	p := &nftables.Set{Name: "vs0_p1"}
	ex := refreshExprs(ServiceSpec{VIP: ap("10.0.0.100:80")}, p)
	assert.Contains(t, ex, expr.Any(&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{10, 0, 0, 100}}))
	assert.Contains(t, ex, expr.Any(&expr.Cmp{Op: expr.CmpOpEq, Register: regAddr, Data: []byte{0, 80}}))
	d, ok := ex[len(ex)-1].(*expr.Dynset)
	require.True(t, ok)
	assert.Equal(t, "vs0_p1", d.SetName)
}

func TestBackendString(t *testing.T) {
	assert.Equal(t, "[10.0.2.11]:tcp:80", Backend{Addr: netip.MustParseAddrPort("10.0.2.11:80")}.String())
}
