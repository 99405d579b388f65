// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// filteredDumps says whether to ask the kernel to filter dumps. It is
// cleared for the rest of the process the first time the kernel turns out
// not to support strict checking or rejects a filtered request; tests clear
// it to exercise the fallback.
var filteredDumps atomic.Bool

func init() { filteredDumps.Store(true) }

// linkConn is the rtnetlink connection through which Apply reads and changes
// one interface. Its reads cost the same however many other interfaces the
// namespace holds, as long as the kernel filters dumps: with strict checking
// on (NETLINK_GET_STRICT_CHK, Linux 4.20 and later) the kernel honours the
// interface index of address, route and neighbour dump requests and sends
// only that interface's entries. The library leaves the index out of address
// dumps and puts it where a strict kernel rejects it in neighbour dumps, so
// those two go through a socket of our own; route dumps go through the
// handle, whose request already carries the filter.
//
// Without strict checking, or once the kernel has rejected a filtered
// request, every read is a dump of the whole namespace filtered here, as
// before. Results are filtered here in both cases, so correctness never
// depends on the kernel's filtering.
type linkConn struct {
	h      *netlink.Handle
	raw    *nl.SocketHandle // for address and neighbour dumps; nil unless strict
	strict bool
	// foreign counts entries the kernel sent for other interfaces, which
	// stays zero while it filters (tests check this).
	foreign int
}

// openLinkConn opens a linkConn in n (nil: the calling thread's namespace).
// Both sockets are created during a single visit to n.
func (n *NetNS) openLinkConn() (*linkConn, error) {
	c := &linkConn{}
	open := func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		c.h = h
		if !filteredDumps.Load() {
			return nil
		}
		s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		c.raw = &nl.SocketHandle{Socket: s}
		return nil
	}
	var err error
	if n == nil {
		err = open()
	} else {
		err = n.Do(open)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kernel: netlink handle in %s: %w", n, err)
	}
	if c.raw != nil {
		c.strict = unix.SetsockoptInt(c.raw.Socket.GetFd(), unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1) == nil &&
			c.h.SetStrictCheck(true) == nil
		if !c.strict {
			// Too old a kernel (ENOPROTOOPT): without strict checking it
			// ignores the filters, and it will not learn them later.
			filteredDumps.Store(false)
			c.raw.Close()
			c.raw = nil
			_ = c.h.SetStrictCheck(false)
		}
	}
	return c, nil
}

// Close closes both sockets. It is safe on a partly opened linkConn.
func (c *linkConn) Close() {
	if c.raw != nil {
		c.raw.Close()
	}
	if c.h != nil {
		c.h.Close()
	}
}

// rejected reports whether err is a strict kernel refusing a filtered dump
// request, and if so turns filtering off for good.
func (c *linkConn) rejected(err error) bool {
	if !c.strict || !errors.Is(err, unix.EINVAL) {
		return false
	}
	filteredDumps.Store(false)
	c.strict = false
	_ = c.h.SetStrictCheck(false)
	return true
}

// addrs returns the addresses of l of the given family (netlink.FAMILY_ALL
// for all).
func (c *linkConn) addrs(l netlink.Link, family int) ([]netlink.Addr, error) {
	idx := l.Attrs().Index
	if c.strict {
		out, err := retryDump(func() ([]netlink.Addr, error) {
			msg := nl.NewIfAddrmsg(family)
			msg.Index = uint32(idx)
			return dumpRaw(c, unix.RTM_GETADDR, unix.RTM_NEWADDR, []nl.NetlinkRequestData{msg}, idx, parseAddr)
		})
		if !c.rejected(err) {
			return out, err
		}
	}
	return retryDump(func() ([]netlink.Addr, error) {
		all, err := c.h.AddrList(nil, family)
		return only(c, all, idx, func(a netlink.Addr) int { return a.LinkIndex }), err
	})
}

// routes returns the routes of the main table with protocol proto whose
// output interface is idx.
func (c *linkConn) routes(idx int, proto netlink.RouteProtocol) ([]netlink.Route, error) {
	// The request carries the interface (RTA_OIF) whenever LinkIndex is
	// set; leaving RT_FILTER_OIF out of the mask only moves that filter
	// here, where entries of other interfaces are counted.
	filter := &netlink.Route{LinkIndex: idx, Protocol: proto, Table: unix.RT_TABLE_MAIN}
	list := func() ([]netlink.Route, error) {
		all, err := c.h.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		return only(c, all, idx, func(r netlink.Route) int { return r.LinkIndex }), err
	}
	out, err := retryDump(list)
	if c.rejected(err) {
		return retryDump(list)
	}
	return out, err
}

// neighbors returns the neighbour entries of interface idx, all families.
func (c *linkConn) neighbors(idx int) ([]netlink.Neigh, error) {
	if c.strict {
		out, err := retryDump(func() ([]netlink.Neigh, error) {
			// A strict kernel wants the interface as NDA_IFINDEX and
			// rejects a non-zero ndm_ifindex.
			data := []nl.NetlinkRequestData{&netlink.Ndmsg{Family: netlink.FAMILY_ALL},
				nl.NewRtAttr(netlink.NDA_IFINDEX, nl.Uint32Attr(uint32(idx)))}
			return dumpRaw(c, unix.RTM_GETNEIGH, unix.RTM_NEWNEIGH, data, idx, parseNeigh)
		})
		if !c.rejected(err) {
			return out, err
		}
	}
	return retryDump(func() ([]netlink.Neigh, error) {
		all, err := c.h.NeighList(0, netlink.FAMILY_ALL)
		return only(c, all, idx, func(n netlink.Neigh) int { return n.LinkIndex }), err
	})
}

// dumpRaw sends a dump request on the raw socket and parses the answers,
// keeping those of interface idx. parse returns the interface of an entry,
// or -1 to skip it.
func dumpRaw[T any](c *linkConn, typ, resType uint16, data []nl.NetlinkRequestData, idx int,
	parse func([]byte) (T, int, error)) ([]T, error) {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: unix.SizeofNlMsghdr, Type: typ, Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP},
		Data:     data,
		Sockets:  map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: c.raw},
	}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, resType)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, err
	}
	var out []T
	for _, m := range msgs {
		v, i, perr := parse(m)
		if perr != nil {
			return nil, perr
		}
		if i == idx {
			out = append(out, v)
		} else if i >= 0 {
			c.foreign++
		}
	}
	return out, err
}

// only returns the entries of interface idx in list and counts the others.
func only[T any](c *linkConn, list []T, idx int, index func(T) int) []T {
	out := list[:0]
	for _, v := range list {
		if index(v) == idx {
			out = append(out, v)
		} else {
			c.foreign++
		}
	}
	return out
}

// parseAddr decodes an RTM_NEWADDR message into what Apply uses and AddrDel
// needs: prefix (IFA_LOCAL, or IFA_ADDRESS when there is no local address),
// peer, scope and flags.
func parseAddr(m []byte) (netlink.Addr, int, error) {
	if len(m) < unix.SizeofIfAddrmsg {
		return netlink.Addr{}, 0, errors.New("short address message")
	}
	msg := nl.DeserializeIfAddrmsg(m)
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return netlink.Addr{}, 0, fmt.Errorf("address message: %w", err)
	}
	a := netlink.Addr{LinkIndex: int(msg.Index), Scope: int(msg.Scope), Flags: int(msg.Flags)}
	var local, dst *net.IPNet
	for _, attr := range attrs {
		switch attr.Attr.Type {
		case unix.IFA_ADDRESS:
			dst = &net.IPNet{IP: attr.Value, Mask: net.CIDRMask(int(msg.Prefixlen), 8*len(attr.Value))}
		case unix.IFA_LOCAL:
			bits := 8 * len(attr.Value)
			local = &net.IPNet{IP: attr.Value, Mask: net.CIDRMask(bits, bits)}
		case unix.IFA_FLAGS:
			if len(attr.Value) >= 4 {
				a.Flags = int(nl.NativeEndian().Uint32(attr.Value))
			}
		}
	}
	// The same reading as the library's AddrList, so that AddrDel gets what
	// it would have got from there: IPv4 sends IFA_LOCAL and IFA_ADDRESS
	// (the peer when they differ), IPv6 usually only IFA_ADDRESS.
	switch {
	case local == nil:
		a.IPNet = dst
	case msg.Family == unix.AF_INET && dst != nil && local.IP.Equal(dst.IP):
		a.IPNet = dst
	default:
		a.IPNet, a.Peer = local, dst
	}
	return a, a.LinkIndex, nil
}

// parseNeigh decodes an RTM_NEWNEIGH message. Like the library's NeighList,
// it skips (index -1) an entry it cannot decode rather than failing.
func parseNeigh(m []byte) (netlink.Neigh, int, error) {
	const sizeofNdmsg = 12
	if len(m) < sizeofNdmsg {
		return netlink.Neigh{}, 0, errors.New("short neighbour message")
	}
	n, err := netlink.NeighDeserialize(m)
	if err != nil {
		return netlink.Neigh{}, -1, nil
	}
	return *n, n.LinkIndex, nil
}
