package tests

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// client is a raw HTTP/1.1 client bound to one loopback source address
// (Linux routes all of 127.0.0.0/8 to lo), so one test can be many clients.
type client struct {
	t    *testing.T
	port int
}

// hold opens a connection from ip, gets one keep-alive answer on it and
// leaves it open and idle; it fails when the server closed the connection
// instead of answering.
func (c client) hold(ip string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)))
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		conn.Close()
		return nil, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("status %d", res.StatusCode)
	}
	conn.SetDeadline(time.Time{})
	c.t.Cleanup(func() { conn.Close() })
	return conn, nil
}

// mustHold holds a connection that should be admitted; it retries for a
// moment because the server gives a slot back only once it has seen a
// closed connection end.
func (c client) mustHold(ip string) net.Conn {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		conn, err := c.hold(ip)
		if err == nil {
			return conn
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("from %s: not served: %v", ip, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c client) mustBeRefused(ip, why string) {
	c.t.Helper()
	if conn, err := c.hold(ip); err == nil {
		conn.Close()
		c.t.Fatalf("from %s: served although %s", ip, why)
	}
}

// One client holding connections cannot starve the others: above
// MAX_CONNECTIONS_PER_IP its new connections are closed at once while other
// addresses are served; a trusted proxy is held only to MAX_CONNECTIONS, and
// above that every new connection is closed until one ends.
func TestConnectionCapsPerClientAndInAll(t *testing.T) {
	t.Parallel()
	vars := cliVars(t)
	vars["MAX_CONNECTIONS"] = "6"
	vars["MAX_CONNECTIONS_PER_IP"] = "2"
	vars["TRUSTED_PROXIES"] = "127.0.0.5"
	port, _ := startServe(t, vars)
	c := client{t, port}

	c.mustHold("127.0.0.2")
	c.mustHold("127.0.0.2")
	c.mustBeRefused("127.0.0.2", "it holds MAX_CONNECTIONS_PER_IP")
	c.mustHold("127.0.0.3") // another client is still served

	var proxied net.Conn
	for range 3 { // more than the per-IP cap: the proxy carries many clients
		proxied = c.mustHold("127.0.0.5")
	}
	c.mustBeRefused("127.0.0.4", "MAX_CONNECTIONS are open")
	proxied.Close()
	c.mustHold("127.0.0.4") // the freed slot is given back
}

// Outside production the server listens on the loopback only (it hands out
// verification tokens), and idle keep-alive connections end after
// HTTP_IDLE_TIMEOUT.
func TestServeListensOnLoopbackAndClosesIdleConnections(t *testing.T) {
	t.Parallel()
	vars := cliVars(t)
	vars["HTTP_IDLE_TIMEOUT"] = "300ms"
	port, _ := startServe(t, vars)
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)), time.Second); err == nil {
		conn.Close()
		t.Fatal("serve accepts connections on 127.0.0.2: it listens beyond 127.0.0.1")
	}
	conn := client{t, port}.mustHold("127.0.0.1")
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from an idle connection", n)
	}
	if idle := time.Since(start); idle < 250*time.Millisecond || idle > 5*time.Second {
		t.Fatalf("idle connection closed after %v, want about 300ms", idle)
	}
}
