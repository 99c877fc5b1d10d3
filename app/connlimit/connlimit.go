// Package connlimit caps the client connections a listener keeps open, in
// all and per client IP, so one client holding thousands of idle keep-alive
// connections cannot exhaust the process's file descriptors and starve
// everyone else.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Limits are the caps; a connection above either is closed at once.
type Limits struct {
	Total int
	PerIP int
	// Exempt peers are held to Total only: behind a trusted proxy or load
	// balancer every client arrives from the proxy's address.
	Exempt []netip.Prefix
}

// Listener is a net.Listener that enforces Limits. Unlike
// golang.org/x/net/netutil.LimitListener, which stops accepting at the cap
// and leaves new connections waiting in the kernel's backlog, it accepts and
// closes them, so a client over a cap learns it at once and the backlog
// stays free for everyone else.
type Listener struct {
	net.Listener
	limits Limits

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// Wrap returns ln with limits enforced.
func Wrap(ln net.Listener, limits Limits) *Listener {
	return &Listener{Listener: ln, limits: limits, perIP: make(map[netip.Addr]int)}
}

// Accept returns the next connection within the caps, closing those above.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, perIP := l.key(c.RemoteAddr())
		if l.admit(key, perIP) {
			return &conn{Conn: c, l: l, key: key, perIP: perIP}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset: no TIME_WAIT left behind by a flood
		}
		c.Close()
	}
}

// key is the per-IP key of a peer, and whether the per-IP cap applies to it.
func (l *Listener) key(a net.Addr) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false // not an IP peer (a unix socket): the total cap only
	}
	addr := ap.Addr().Unmap()
	for _, p := range l.limits.Exempt {
		if p.Contains(addr) {
			return netip.Addr{}, false
		}
	}
	return clientKey(addr), true
}

// clientKey counts an IPv6 client by its /64, as the rate limits do: one
// host is handed a whole /64 and can pick any address in it.
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

func (l *Listener) admit(key netip.Addr, perIP bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.limits.Total || perIP && l.perIP[key] >= l.limits.PerIP {
		return false
	}
	l.total++
	if perIP {
		l.perIP[key]++
	}
	return true
}

func (l *Listener) release(key netip.Addr, perIP bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if perIP {
		if l.perIP[key]--; l.perIP[key] == 0 {
			delete(l.perIP, key) // the map holds only clients connected now
		}
	}
}

// conn gives its slot back on its first Close (net/http may close twice).
type conn struct {
	net.Conn
	l     *Listener
	key   netip.Addr
	perIP bool
	once  sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key, c.perIP) })
	return err
}

// CloseWrite keeps net/http's graceful half-close working through the wrapper.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
