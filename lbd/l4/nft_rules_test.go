package l4

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestEncodeAddrPort(t *testing.T) {
	assert.Equal(t, []byte{10, 0, 2, 11, 0x1f, 0x90, 0, 0}, encodeAddrPort(ap("10.0.2.11:8080")))
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

func TestVSRules(t *testing.T) {
	sets := vsSets{slots: &nftables.Set{Name: "vs0_slots", ID: 1}}
	psets := vsSets{slots: sets.slots, alive: &nftables.Set{Name: "vs0_alive", ID: 2},
		persist: &nftables.Set{Name: "vs0_persist", ID: 3}}
	vip := ap("10.0.0.100:80")
	sorry := ap("10.0.3.5:8080")

	tests := []struct {
		name   string
		spec   ServiceSpec
		nslots int
		sets   vsSets
		check  func(t *testing.T, rules [][]expr.Any)
	}{
		{"rr", ServiceSpec{VIP: vip, Algo: AlgoRR}, 2, sets, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 1)
			assert.Equal(t, &expr.Numgen{Register: regAddr, Modulus: 2, Type: unix.NFT_NG_INCREMENTAL}, rules[0][0])
			assert.Equal(t, lookupInto(sets.slots, regAddr, regAddr), rules[0][1])
			assert.Equal(t, dnatExpr(), rules[0][2])
		}},
		{"wrr uses the expanded table", ServiceSpec{VIP: vip, Algo: AlgoWRR}, 4, sets, func(t *testing.T, rules [][]expr.Any) {
			assert.Equal(t, uint32(4), rules[0][0].(*expr.Numgen).Modulus)
		}},
		{"sh", ServiceSpec{VIP: vip, Algo: AlgoSH}, 3, sets, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 1)
			h, ok := rules[0][1].(*expr.Hash)
			require.True(t, ok)
			assert.Equal(t, uint32(3), h.Modulus)
			assert.Equal(t, uint32(regKey), h.SourceRegister)
			assert.Equal(t, expr.HashTypeJenkins, h.Type)
		}},
		{"sorry", ServiceSpec{VIP: vip, Algo: AlgoRR, Sorry: sorry}, 0, sets, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 1)
			assert.Equal(t, &expr.Immediate{Register: regAddr, Data: []byte{10, 0, 3, 5}}, rules[0][0])
			assert.Equal(t, &expr.Immediate{Register: regPort, Data: []byte{0x1f, 0x90}}, rules[0][1])
		}},
		{"empty rejects", ServiceSpec{VIP: vip, Algo: AlgoRR}, 0, sets, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 1)
			assert.IsType(t, &expr.Reject{}, rules[0][0])
		}},
		{"persistence", ServiceSpec{VIP: vip, Algo: AlgoRR, Persistence: time.Minute}, 2, psets, func(t *testing.T, rules [][]expr.Any) {
			require.Len(t, rules, 3)
			ops := []uint32{}
			for _, r := range rules {
				for _, e := range r {
					if d, ok := e.(*expr.Dynset); ok {
						assert.Equal(t, "vs0_persist", d.SetName)
						ops = append(ops, d.Operation)
					}
				}
			}
			assert.Equal(t, []uint32{nftDynsetOpDelete, unix.NFT_DYNSET_OP_UPDATE, unix.NFT_DYNSET_OP_ADD}, ops)
			assert.NotContains(t, rules[0], dnatExpr(), "forgetting does not NAT")
			assert.Equal(t, dnatExpr(), rules[1][len(rules[1])-1])
			assert.Equal(t, dnatExpr(), rules[2][len(rules[2])-1])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, vsRules(tt.spec, tt.nslots, tt.sets))
		})
	}
}

func TestBackendString(t *testing.T) {
	assert.Equal(t, "[10.0.2.11]:tcp:80", Backend{Addr: netip.MustParseAddrPort("10.0.2.11:80")}.String())
}
