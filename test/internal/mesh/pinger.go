// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mesh

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Pinger sends an ICMP echo request every interval from a namespace to one
// address and records which ones were answered, to measure the outage a
// failure causes. Start it with StartPinger, end it with Stop.
type Pinger struct {
	from     *NetNS
	dst      net.IP
	interval time.Duration
	conn     *icmp.PacketConn
	id       int

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	stopped  bool
	sent     []time.Time // send time by sequence number - 1
	answered map[int]bool
}

// PingStats is what a Pinger saw.
type PingStats struct {
	Interval time.Duration
	Sent     int
	Received int
	// Lost counts the requests without a reply (those sent in the last
	// moment before Stop have had a grace to be answered).
	Lost int
	// Outage is the longest run of consecutive lost requests, as time: from
	// the first lost one's send to the next answered one's send (0 when
	// nothing was lost). It is the traffic outage with the interval's
	// resolution.
	Outage time.Duration
	// OutageStart is when that run began (zero when nothing was lost).
	OutageStart time.Time
}

func (s PingStats) String() string {
	return fmt.Sprintf("%d sent every %s, %d received, %d lost, longest outage %s", s.Sent, s.Interval, s.Received, s.Lost, s.Outage)
}

// StartPinger starts pinging dst from namespace from every interval (10 ms
// is the resolution). Send errors (no route while an interface is
// gone) count as lost requests.
func StartPinger(from *NetNS, dst net.IP, interval time.Duration) (*Pinger, error) {
	network, listen := "ip4:icmp", "0.0.0.0"
	if dst.To4() == nil {
		network, listen = "ip6:ipv6-icmp", "::"
	}
	p := &Pinger{from: from, dst: dst, interval: interval, answered: map[int]bool{}}
	if err := from.Do(func() (err error) {
		p.conn, err = icmp.ListenPacket(network, listen)
		return err
	}); err != nil {
		return nil, fmt.Errorf("mesh: pinger %s from %s: %w", dst, from.Name, err)
	}
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		_ = p.conn.Close()
		return nil, fmt.Errorf("mesh: pinger: %w", err)
	}
	p.id = int(b[0])<<8 | int(b[1])
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go p.receive()
	go p.send(ctx)
	return p, nil
}

func (p *Pinger) send(ctx context.Context) {
	defer p.wg.Done()
	reqType := icmp.Type(ipv4.ICMPTypeEcho)
	if p.dst.To4() == nil {
		reqType = ipv6.ICMPTypeEchoRequest
	}
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for seq := 1; ; seq++ {
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: p.id, Seq: seq & 0xffff, Data: []byte("nsmesh pinger")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.sent = append(p.sent, time.Now())
		p.mu.Unlock()
		_, _ = p.conn.WriteTo(b, &net.IPAddr{IP: p.dst})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *Pinger) receive() {
	defer p.wg.Done()
	proto, replyType := 1, icmp.Type(ipv4.ICMPTypeEchoReply)
	if p.dst.To4() == nil {
		proto, replyType = 58, ipv6.ICMPTypeEchoReply
	}
	buf := make([]byte, 1500)
	for {
		n, peer, err := p.conn.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		msg, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || msg.Type != replyType {
			continue
		}
		echo, ok := msg.Body.(*icmp.Echo)
		if !ok || echo.ID != p.id || !peerIP(peer).Equal(p.dst) {
			continue
		}
		p.mu.Lock()
		// Sequence numbers wrap at 65536 (11 minutes at 10 ms): map the
		// reply to the latest request with that number.
		for i := len(p.sent); i > 0; i-- {
			if i&0xffff == echo.Seq {
				p.answered[i] = true
				break
			}
		}
		p.mu.Unlock()
	}
}

// Stop stops sending, waits grace for the last replies and returns the
// statistics.
func (p *Pinger) Stop(grace time.Duration) PingStats {
	p.cancel()
	time.Sleep(grace)
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	_ = p.conn.SetReadDeadline(time.Now())
	p.wg.Wait()
	_ = p.conn.Close()
	return p.Stats()
}

// Stats returns the statistics so far; requests younger than a second are
// not counted yet (their replies may still come).
func (p *Pinger) Stats() PingStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := PingStats{Interval: p.interval}
	cutoff := time.Now().Add(-time.Second)
	running := !p.stopped
	var runStart time.Time
	for i, at := range p.sent {
		seq := i + 1
		if running && at.After(cutoff) {
			break
		}
		s.Sent++
		if p.answered[seq] {
			s.Received++
			if !runStart.IsZero() {
				if d := at.Sub(runStart); d > s.Outage {
					s.Outage, s.OutageStart = d, runStart
				}
				runStart = time.Time{}
			}
			continue
		}
		s.Lost++
		if runStart.IsZero() {
			runStart = at
		}
	}
	if !runStart.IsZero() && len(p.sent) > 0 {
		// Lost up to the end: the outage lasts at least until then.
		if d := p.sent[s.Sent-1].Sub(runStart) + p.interval; d > s.Outage {
			s.Outage, s.OutageStart = d, runStart
		}
	}
	return s
}
