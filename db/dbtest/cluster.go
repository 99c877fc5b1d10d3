package dbtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of real redis-server processes on loopback
// ports, three masters each with one replica, for failover tests. Its
// processes are killed and its files removed when the test ends, whether it
// passed or not.
type Cluster struct {
	tb    testing.TB
	Nodes []*Node
}

// Node is one redis-server of a Cluster.
type Node struct {
	Addr  string
	cmd   *exec.Cmd
	slots [][2]int // as a master at the start
	// Replica is the replica of a master at the start, nil for a replica.
	Replica *Node
}

// StartCluster starts a 3-master, 3-replica cluster, or skips the test
// when redis-server is not installed.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Skipf("dbtest: %s is not installed: the Redis Cluster test needs real servers", bin)
		}
	}
	dir := tb.TempDir()
	c := &Cluster{tb: tb}
	tb.Cleanup(func() {
		for _, n := range c.Nodes {
			_ = n.cmd.Process.Kill() // also ends a stopped one
			_ = n.cmd.Wait()
		}
		if tb.Failed() {
			for _, n := range c.Nodes {
				if log, err := os.ReadFile(filepath.Join(dir, n.port()+".log")); err == nil {
					tb.Logf("redis-server %s log (last lines):\n%s", n.Addr, tail(string(log), 15))
				}
			}
		}
	})
	for _, port := range freeClusterPorts(tb, 6) {
		p := strconv.Itoa(port)
		cmd := exec.Command("redis-server",
			"--bind", "127.0.0.1", "--port", p, "--dir", dir, "--logfile", p+".log",
			"--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+p+".conf",
			// Peers mark a silent node failed after this: short, so a test
			// need not wait long for the cluster to agree.
			"--cluster-node-timeout", "1000")
		// If the test binary dies without its cleanups, the servers die too.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			tb.Fatalf("dbtest: start redis-server: %v", err)
		}
		c.Nodes = append(c.Nodes, &Node{Addr: "127.0.0.1:" + p, cmd: cmd})
	}
	for _, n := range c.Nodes {
		c.await(n, 10*time.Second, func(cl *redis.Client) error { return cl.Ping(context.Background()).Err() })
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("dbtest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		c.await(n, 20*time.Second, func(cl *redis.Client) error {
			info, err := cl.ClusterInfo(context.Background()).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = fmt.Errorf("not ok yet")
			}
			return err
		})
	}
	c.readRoles()
	return c
}

// readRoles records each master's slots and replica from CLUSTER SLOTS.
func (c *Cluster) readRoles() {
	byAddr := map[string]*Node{}
	for _, n := range c.Nodes {
		byAddr[n.Addr] = n
	}
	cl := redis.NewClient(&redis.Options{Addr: c.Nodes[0].Addr})
	defer cl.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		slots, err := cl.ClusterSlots(context.Background()).Result()
		complete := err == nil
		for _, s := range slots {
			complete = complete && len(s.Nodes) == 2
		}
		if complete {
			for _, s := range slots {
				m, r := byAddr[s.Nodes[0].Addr], byAddr[s.Nodes[1].Addr]
				if m == nil || r == nil {
					c.tb.Fatalf("dbtest: unknown node in CLUSTER SLOTS: %v", s.Nodes)
				}
				m.slots = append(m.slots, [2]int{int(s.Start), int(s.End)})
				m.Replica = r
			}
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("dbtest: cluster slots never showed a replica per master: %v %v", slots, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Masters returns the masters of the cluster as it started.
func (c *Cluster) Masters() []*Node {
	var ms []*Node
	for _, n := range c.Nodes {
		if n.Replica != nil {
			ms = append(ms, n)
		}
	}
	return ms
}

// Addrs returns every node's address, as REDIS_CLUSTER_ADDRS lists them.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// Owns reports whether the master n served the key's slot at the start.
func (n *Node) Owns(key string) bool {
	slot := Slot(key)
	for _, r := range n.slots {
		if slot >= r[0] && slot <= r[1] {
			return true
		}
	}
	return false
}

// Kill ends n at once (SIGKILL): its port refuses connections.
func (n *Node) Kill() error { return n.cmd.Process.Signal(syscall.SIGKILL) }

// Freeze stops n (SIGSTOP): connections are accepted by the kernel and
// never answered, a black hole.
func (n *Node) Freeze() error { return n.cmd.Process.Signal(syscall.SIGSTOP) }

// Promote makes the replica n the master of its slots without its
// master's consent (CLUSTER FAILOVER TAKEOVER), as the cluster itself would
// after its node timeout, and returns when n says it is a master.
func (c *Cluster) Promote(n *Node) time.Time {
	c.tb.Helper()
	cl := redis.NewClient(&redis.Options{Addr: n.Addr})
	defer cl.Close()
	ctx := context.Background()
	if err := cl.Do(ctx, "CLUSTER", "FAILOVER", "TAKEOVER").Err(); err != nil {
		c.tb.Fatalf("dbtest: CLUSTER FAILOVER TAKEOVER on %s: %v", n.Addr, err)
	}
	c.await(n, 10*time.Second, func(cl *redis.Client) error {
		role, err := cl.Do(ctx, "ROLE").Slice()
		if err == nil && (len(role) == 0 || role[0] != "master") {
			err = fmt.Errorf("role %v", role)
		}
		return err
	})
	return time.Now()
}

// await polls f on a client of n until it returns nil, or fails the test.
func (c *Cluster) await(n *Node, limit time.Duration, f func(*redis.Client) error) {
	c.tb.Helper()
	cl := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer cl.Close()
	deadline := time.Now().Add(limit)
	for {
		err := f(cl)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("dbtest: redis-server %s: %v", n.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *Node) port() string { _, p, _ := net.SplitHostPort(n.Addr); return p }

// freeClusterPorts finds n loopback ports that are free along with their
// cluster bus ports (port + 10000).
func freeClusterPorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 200 {
			tb.Fatal("dbtest: no free ports for a Redis Cluster")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		held = append(held, bus)
		ports = append(ports, port)
	}
	return ports
}

// Slot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of its hash
// tag, or of the whole key when it has none, modulo 16384.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
