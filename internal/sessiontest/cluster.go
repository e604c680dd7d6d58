package sessiontest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of a test's own: 3 masters and 3 replicas on
// 127.0.0.1 and free ports, stopped when the test ends. Like Redis, it
// speaks no more Redis than it needs to start and watch the cluster: each
// store module connects with its own client.
type Cluster struct {
	Nodes []*Redis // in the order given to redis-cli --cluster create
	tb    testing.TB
}

// StartCluster starts 6 redis-server nodes with cluster mode on, makes them
// a cluster of 3 masters with a replica each (redis-cli --cluster create),
// and returns once every node reports cluster_state:ok and every master has
// its replica online, about 2 seconds. Where redis-server or redis-cli is
// missing it skips the test, except in CI (CI=true), where it fails.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("%s is not installed; .ci/run installs it with apt-get install -y redis-server", bin)
			}
			tb.Skipf("%s is not installed; to run the Redis Cluster tests: apt-get install -y redis-server", bin)
		}
	}
	c := &Cluster{tb: tb}
	for _, port := range clusterPorts(tb, 6) {
		dir := tb.TempDir()
		p := strconv.Itoa(port)
		s := &Redis{tb: tb, Addr: net.JoinHostPort("127.0.0.1", p), dir: dir, args: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes-"+p+".conf"),
			"--cluster-node-timeout", "2000",
			// Debian's Redis 7.0 replicas refuse to fail over soon after the
			// cluster is made without it.
			"--cluster-replica-validity-factor", "0",
			"--repl-diskless-sync-delay", "0", // a replica syncs at once, not after 5s
		}}
		tb.Cleanup(s.Stop)
		s.Start()
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(30 * time.Second)
	return c
}

// Addrs returns the addresses of every node, to seed a cluster client.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// WaitHealthy waits until every running node reports cluster_state:ok with
// all 16384 slots served, and every master has a replica online; it fails
// the test after timeout.
func (c *Cluster) WaitHealthy(timeout time.Duration) {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := c.unhealthy()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("the Redis Cluster was not healthy within %v: %s", timeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unhealthy says what is not ready yet, "" if nothing.
func (c *Cluster) unhealthy() string {
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue // stopped or killed
		}
		info, err := Command(n.Addr, "CLUSTER", "INFO")
		if err != nil {
			return n.Addr + ": " + err.Error()
		}
		if field(info, "cluster_state") != "ok" || field(info, "cluster_slots_ok") != "16384" {
			return n.Addr + ": " + strings.Join(strings.Fields(info), " ")
		}
		repl, err := Command(n.Addr, "INFO", "replication")
		if err != nil {
			return n.Addr + ": " + err.Error()
		}
		switch field(repl, "role") {
		case "master":
			if field(repl, "connected_slaves") == "0" {
				return n.Addr + ": a master without a replica online"
			}
			if !strings.Contains(repl, "state=online") {
				return n.Addr + ": its replica is not online yet"
			}
		case "slave":
			if field(repl, "master_link_status") != "up" {
				return n.Addr + ": a replica whose link to its master is down"
			}
		}
	}
	return ""
}

// Masters returns the addresses of the nodes that are masters now, as the
// first running node sees them.
func (c *Cluster) Masters() []string {
	c.tb.Helper()
	var masters []string
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		nodes, err := Command(n.Addr, "CLUSTER", "NODES")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			// id addr flags master ping pong epoch link slots...: a master that serves
			// no slots yet (a replica just after the cluster was made) is no master.
			if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
				continue
			}
			addr, _, _ := strings.Cut(f[1], "@") // 127.0.0.1:port@busport
			masters = append(masters, addr)
		}
		return masters
	}
	c.tb.Fatal("no node of the Redis Cluster answers")
	return nil
}

// Node returns the node at addr.
func (c *Cluster) Node(addr string) *Redis {
	c.tb.Helper()
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	c.tb.Fatalf("%s is not a node of the cluster", addr)
	return nil
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// Start starts every stopped node again, each with the cluster
// configuration it saved, and waits until the cluster is healthy.
func (c *Cluster) Start() {
	c.tb.Helper()
	for _, n := range c.Nodes {
		if n.cmd == nil {
			n.Start()
		}
	}
	c.WaitHealthy(30 * time.Second)
}

// Kill ends the server at once (SIGKILL), as a crash would: it saves and
// tells nothing. Start starts it again.
func (s *Redis) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// clusterPorts returns n free ports whose cluster bus ports (port+10000) are
// free too.
func clusterPorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			tb.Fatal("found no free ports for a Redis Cluster on 127.0.0.1")
		}
		port := 20000 + rand.IntN(2700) // and its bus port+10000 below 32768: see freePort
		a, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			a.Close()
			continue
		}
		held = append(held, a, b)
		ports = append(ports, port)
	}
	return ports
}

// Command sends one command to the Redis at addr on a connection of its own
// and returns its reply: a status, an integer or a bulk string as text, an
// error reply as an error. It is for watching servers, not for stores.
func Command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(req.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("redis %s: empty reply", args[0])
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis %s: %s", args[0], line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis %s: a reply Command does not read: %q", args[0], line)
}

// field returns the value of name in an INFO-shaped reply ("name:value"
// lines).
func field(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
