package capture

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Traffic generators for the real-capture tests; every socket is created
// inside a test namespace.

// ping sends one ICMP echo request from ns to dst and waits for the reply.
func ping(ns netns.NsHandle, dst netip.Addr, id, seq int) error {
	var conn *icmp.PacketConn
	if err := in(ns, func() (err error) {
		conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		return fmt.Errorf("icmp socket: %w", err)
	}
	defer conn.Close()
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("halab capture test")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	if _, err := conn.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return fmt.Errorf("icmp send: %w", err)
	}
	buf := make([]byte, 1500)
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("icmp reply: %w", err)
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err == nil && m.Type == ipv4.ICMPTypeEchoReply {
			if e, ok := m.Body.(*icmp.Echo); ok && e.Seq == seq {
				return nil
			}
		}
	}
}

// listenTCP opens a listener in ns; the server reads one message, answers
// "world" and closes after the client did.
func listenTCP(ns netns.NsHandle, addr string) (net.Listener, <-chan error, error) {
	var ln net.Listener
	if err := in(ns, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			done <- err
			return
		}
		if _, err := c.Write([]byte("world")); err != nil {
			done <- err
			return
		}
		_, err = io.Copy(io.Discard, c) // until the client's FIN
		// Close (send our FIN) before reporting, so the exchange is over
		// when the caller sends more traffic.
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return ln, done, nil
}

// tcpExchange connects from ns, sends "hello", reads the answer and closes
// first, so the client sends the first FIN.
func tcpExchange(ns netns.NsHandle, addr string) error {
	var c net.Conn
	if err := in(ns, func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, 3*time.Second)
		return err
	}); err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	return c.Close()
}

// udpConn dials a UDP "connection" from ns.
func udpConn(ns netns.NsHandle, addr string) (net.Conn, error) {
	var c net.Conn
	err := in(ns, func() (err error) {
		c, err = net.Dial("udp4", addr)
		return err
	})
	return c, err
}

// udpListener opens a UDP socket in ns that nobody reads (datagrams it
// cannot queue are dropped by the kernel, no ICMP errors are sent).
func udpListener(ns netns.NsHandle, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := in(ns, func() (err error) {
		c, err = net.ListenPacket("udp4", addr)
		return err
	})
	return c, err
}
