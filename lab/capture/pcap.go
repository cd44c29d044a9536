package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapSnaplen is the snapshot length written in pcap headers (libpcap's
// maximum): captures are not cut unless Spec.Snaplen says so.
const pcapSnaplen = 262144

// pcapFile is a buffered pcap writer.
type pcapFile struct {
	f *os.File
	b *bufio.Writer
	w *pcapgo.Writer
}

func createPcap(path string, snaplen int) (*pcapFile, error) {
	if snaplen <= 0 || snaplen > pcapSnaplen {
		snaplen = pcapSnaplen
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	b := bufio.NewWriterSize(f, 256<<10)
	w := pcapgo.NewWriterNanos(b)
	if err := w.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("pcap %s: header: %w", path, err)
	}
	return &pcapFile{f: f, b: b, w: w}, nil
}

func (p *pcapFile) write(ci gopacket.CaptureInfo, data []byte) error {
	ci.AncillaryData = nil
	if err := p.w.WritePacket(ci, data); err != nil {
		return fmt.Errorf("pcap %s: %w", p.f.Name(), err)
	}
	return nil
}

func (p *pcapFile) close() error {
	err := p.b.Flush()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pcap %s: %w", p.f.Name(), err)
	}
	return nil
}

// ReadPcap reads a pcap file (as written by a capture or by tcpdump) and
// decodes its packets, labelling them with node and iface.
func ReadPcap(path, node, iface string) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("pcap %s: %w", path, err)
	}
	if lt := r.LinkType(); lt != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("pcap %s: link type %v, want Ethernet", path, lt)
	}
	dec := newDecoder()
	var out []Packet
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("pcap %s: packet %d: %w", path, len(out)+1, err)
		}
		p := Packet{Node: node, Iface: iface, Time: ci.Timestamp, Len: ci.Length, Data: data}
		dec.decode(&p)
		out = append(out, p)
	}
}
