package dbtest

import (
	"bytes"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Mode is how a Proxy treats its connections; it can be changed at any time.
type Mode int

const (
	// Forward passes bytes both ways.
	Forward Mode = iota
	// BlackHole accepts connections and never answers: whatever either side
	// sends is held, closes included, as on a link that drops every packet.
	// Back in Forward, what was held is delivered in order, as TCP
	// retransmission would.
	BlackHole
	// Reset ends every connection, open or new, with a TCP RST.
	Reset
	// Close ends every connection, open or new, with a FIN, as a server
	// that goes away mid-answer does.
	Close
)

func (m Mode) String() string {
	return [...]string{"forward", "black hole", "reset", "close"}[m]
}

// Proxy is a TCP proxy in front of a real server (PostgreSQL, Redis) that a
// test switches between modes to play an outage: refused, black-holed, or
// dropped mid-query.
type Proxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	mode      Mode
	changed   chan struct{} // closed and replaced at every change of mode
	closed    bool
	conns     map[*net.TCPConn]struct{}
	after     []byte // see After
	afterMode Mode
	wg        sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target
// (host:port) until the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("dbtest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, changed: make(chan struct{}), conns: make(map[*net.TCPConn]struct{})}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(p.close)
	return p
}

// ProxyURL puts a proxy in front of the server rawURL names
// (postgres://… or redis://…) and returns it with the same URL pointed at
// the proxy. It skips the test for URLs one TCP proxy cannot stand in for
// (TLS, sockets, several hosts).
func ProxyURL(tb testing.TB, rawURL string) (*Proxy, string) {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	ports := map[string]string{"postgres": "5432", "postgresql": "5432", "redis": "6379"}
	port, ok := ports[u.Scheme]
	if !ok || u.Hostname() == "" || u.Query().Has("host") || u.Query().Get("sslmode") == "require" {
		tb.Skipf("dbtest: %s://… cannot be proxied to simulate an outage", u.Scheme)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	p := NewProxy(tb, net.JoinHostPort(u.Hostname(), port))
	u.Host = p.Addr()
	return p, u.String()
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches every connection, open or new, to m.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	if m == Reset || m == Close {
		for c := range p.conns {
			end(c, m)
		}
		clear(p.conns)
	}
}

// After lets the next message from a client that contains pattern reach
// the server, and then switches to mode m before any answer can come back:
// After([]byte("commit"), Close) is a commit whose acknowledgement is lost.
func (p *Proxy) After(pattern []byte, m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.after, p.afterMode = pattern, m
}

// pass waits while the proxy is black-holed and reports whether bytes may
// go on (false: reset, or the test is over).
func (p *Proxy) pass() bool {
	for {
		p.mu.Lock()
		mode, changed, closed := p.mode, p.changed, p.closed
		p.mu.Unlock()
		switch {
		case closed || mode == Reset || mode == Close:
			return false
		case mode == Forward:
			return true
		}
		<-changed
	}
}

// track registers c, or resets it and reports false when it must not live.
func (p *Proxy) track(c *net.TCPConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		c.Close()
		return false
	case p.mode == Reset || p.mode == Close:
		end(c, p.mode)
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c *net.TCPConn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// afterIn returns, once, the mode After asked for if chunk holds its pattern.
func (p *Proxy) afterIn(chunk []byte) (Mode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.after == nil || !bytes.Contains(chunk, p.after) {
		return 0, false
	}
	p.after = nil
	return p.afterMode, true
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed at cleanup
		}
		if tc := c.(*net.TCPConn); p.track(tc) {
			p.wg.Add(1)
			go p.pipe(tc)
		}
	}
}

func (p *Proxy) pipe(client *net.TCPConn) {
	defer p.wg.Done()
	defer p.untrack(client)
	// A black hole answers no SYN either: dial only once it is over.
	if !p.pass() {
		return
	}
	c, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	go func() { p.copy(up, client, true); done <- struct{}{} }()
	go func() { p.copy(client, up, false); done <- struct{}{} }()
	<-done
	// One side ended: close both so the other copy ends too.
	p.untrack(client)
	p.untrack(up)
	<-done
}

// copy moves bytes from src to dst, holding them while black-holed.
func (p *Proxy) copy(dst, src *net.TCPConn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		// Even the end of the stream waits out a black hole.
		if !p.pass() {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if fromClient {
				if m, ok := p.afterIn(buf[:n]); ok {
					p.SetMode(m) // the server already has the message whole
				}
			}
		}
		if err != nil {
			return // io.EOF included: pipe closes both sides
		}
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	close(p.changed)
	p.changed = make(chan struct{})
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// end closes c as mode m says: with an RST (Reset) or a FIN.
func end(c *net.TCPConn, m Mode) {
	if m == Reset {
		_ = c.SetLinger(0)
	}
	c.Close()
}
