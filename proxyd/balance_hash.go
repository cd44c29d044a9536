package proxyd

import (
	"encoding/binary"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"
	"time"

	"halab/proxyd/config"
)

// hashPolicy is nginx's "hash KEY": crc32 of the key, rehashed on each
// retry the way Cache::Memcached does, mapped onto weights.
type hashPolicy struct{ key string }

func (h hashPolicy) start(p *pool, x *exchange) selector {
	tpl, _ := config.ParseTemplate(h.key)
	return &hashState{rrState: newRRState(p), key: x.expand(tpl)}
}

type hashState struct {
	*rrState
	key      string
	hash     uint32
	rehash   int
	attempts int
}

func (s *hashState) next(now time.Time) *peer {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	set := s.pool.primary
	if s.attempts > 20 || set.single || set.totalWeight == 0 {
		return s.nextLocked(now)
	}
	for {
		var pre string
		if s.rehash > 0 {
			pre = strconv.Itoa(s.rehash)
		}
		h := crc32.ChecksumIEEE([]byte(pre + s.key))
		s.hash += (h >> 16) & 0x7fff
		s.rehash++
		w := int(s.hash % uint32(set.totalWeight))
		p := 0
		for w >= set.peers[p].weight {
			w -= set.peers[p].weight
			p++
		}
		pe := set.peers[p]
		if !s.tried[p] && pe.usable(now) {
			if now.Sub(pe.checked) > pe.failTimeout {
				pe.checked = now
			}
			s.tried[p] = true
			pe.conns++
			return pe
		}
		s.attempts++
		if s.attempts > 20 {
			return s.nextLocked(now)
		}
	}
}

// consistentHash is "hash KEY consistent": a ketama ring of 160 points per
// unit of weight, each point crc32(HOST \0 PORT PREV_HASH).
type consistentHash struct {
	key    string
	points []chPoint
}

type chPoint struct {
	hash   uint32
	server string
}

func newConsistentHash(key string, set *peerSet) *consistentHash {
	c := &consistentHash{key: key}
	for _, pe := range set.peers {
		host, port := pe.server, ""
		if i := strings.LastIndexByte(pe.server, ':'); i >= 0 && allDigits(pe.server[i+1:]) {
			host, port = pe.server[:i], pe.server[i+1:]
		}
		base := crc32.Update(0, crc32.IEEETable, []byte(host+"\x00"+port))
		var prev [4]byte
		for j := 0; j < pe.weight*160; j++ {
			h := crc32.Update(base, crc32.IEEETable, prev[:])
			c.points = append(c.points, chPoint{h, pe.server})
			binary.LittleEndian.PutUint32(prev[:], h)
		}
	}
	sort.SliceStable(c.points, func(i, j int) bool { return c.points[i].hash < c.points[j].hash })
	out := c.points[:0]
	for i, p := range c.points {
		if i > 0 && p.hash == c.points[i-1].hash {
			continue
		}
		out = append(out, p)
	}
	c.points = out
	return c
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (c *consistentHash) start(p *pool, x *exchange) selector {
	tpl, _ := config.ParseTemplate(c.key)
	h := crc32.ChecksumIEEE([]byte(x.expand(tpl)))
	i := sort.Search(len(c.points), func(i int) bool { return c.points[i].hash >= h })
	return &chashState{rrState: newRRState(p), ring: c, idx: i}
}

type chashState struct {
	*rrState
	ring     *consistentHash
	idx      int
	attempts int
}

func (s *chashState) next(now time.Time) *peer {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	set := s.pool.primary
	if s.attempts > 20 || set.single || len(s.ring.points) == 0 {
		return s.nextLocked(now)
	}
	for {
		server := s.ring.points[s.idx%len(s.ring.points)].server
		var best *peer
		bi, total := -1, 0
		for i, pe := range set.peers {
			if s.tried[i] || !pe.usable(now) || pe.server != server {
				continue
			}
			pe.currentWeight += pe.effectiveWeight
			total += pe.effectiveWeight
			if pe.effectiveWeight < pe.weight {
				pe.effectiveWeight++
			}
			if best == nil || pe.currentWeight > best.currentWeight {
				best, bi = pe, i
			}
		}
		if best != nil {
			best.currentWeight -= total
			if now.Sub(best.checked) > best.failTimeout {
				best.checked = now
			}
			s.tried[bi] = true
			best.conns++
			return best
		}
		s.idx++
		s.attempts++
		if s.attempts > 20 {
			return s.nextLocked(now)
		}
	}
}
