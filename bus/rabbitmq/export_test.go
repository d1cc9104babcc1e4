package rabbitmq

import (
	"net"
	"sort"
	"strconv"
)

// DeclaredQueues returns the names of the queues tr declared, sorted.
func DeclaredQueues(tr *Transport) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]string, 0, len(tr.declared))
	for q := range tr.declared {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// CutSockets closes tr's network connections abruptly, from the client side.
func CutSockets(tr *Transport) {
	for _, l := range []*link{tr.pubLink, tr.cons} {
		l.mu.Lock()
		s := l.cur
		l.mu.Unlock()
		if s != nil && s.nc != nil {
			s.nc.Close()
		}
	}
}

// Connected reports whether both connections of tr are up.
func Connected(tr *Transport) bool {
	for _, l := range []*link{tr.pubLink, tr.cons} {
		l.mu.Lock()
		s := l.cur
		l.mu.Unlock()
		if s == nil {
			return false
		}
	}
	return true
}

// Reconnects returns how often tr's publish and consume connections reconnected.
func Reconnects(tr *Transport) (publish, consume int64) {
	return tr.pubLink.reconnects.Load(), tr.cons.reconnects.Load()
}

// DeclareErr is declareErr.
var DeclareErr = declareErr

// Down reports whether tr's publish and consume connections are down.
func Down(tr *Transport) (publish, consume bool) {
	down := func(l *link) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.cur == nil
	}
	return down(tr.pubLink), down(tr.cons)
}

// LocalPorts returns the client-side TCP ports of tr's open connections, which
// the broker lists as their peer_port.
func LocalPorts(tr *Transport) []string {
	var out []string
	for _, l := range []*link{tr.pubLink, tr.cons} {
		l.mu.Lock()
		s := l.cur
		l.mu.Unlock()
		if s == nil || s.nc == nil {
			continue
		}
		if a, ok := s.nc.LocalAddr().(*net.TCPAddr); ok {
			out = append(out, strconv.Itoa(a.Port))
		}
	}
	return out
}
