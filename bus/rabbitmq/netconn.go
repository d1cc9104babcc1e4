package rabbitmq

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// maxPending bounds the bytes a coalescingConn holds for its flusher; a writer
// that finds that much waiting waits for the socket.
const maxPending = 1 << 20

// coalescingConn is the socket of a connection, with writes coalesced: Write
// copies the bytes and returns, and a goroutine of the connection writes
// everything that accumulated in one system call. amqp091-go flushes after
// every frame it sends (each publish, each ack), so that under load a system
// call per message is most of what a message costs to send, on the client and
// on the broker, which reads the same bytes in as many pieces. Coalesced, a busy
// connection sends many messages per call and an idle one sends at once. The
// frames are unchanged and in order: one ack is still one basic.ack.
//
// A failed write is reported by the next Write (and the socket is closed, so
// that amqp091-go's reader sees the loss at once); what was written is
// delivered as before, as far as TCP delivers it: nothing of the transport
// relies on a write having reached the broker (publishing waits for the
// broker's confirm).
type coalescingConn struct {
	net.Conn

	mu      sync.Mutex
	space   sync.Cond // signalled when the flusher took the pending bytes
	pending []byte    // bytes written and not sent yet
	spare   []byte    // the buffer the flusher sent last, for reuse
	err     error     // the write error, or net.ErrClosed after Close

	kick      chan struct{} // wakes the flusher; buffered (1)
	done      chan struct{} // closed by Close
	exited    chan struct{} // closed when the flusher returns
	closeOnce sync.Once
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, kick: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	cc.space.L = &cc.mu
	go cc.flusher()
	return cc
}

// Write queues p for the flusher. It waits while maxPending bytes are queued.
func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.err == nil && len(c.pending) >= maxPending {
		c.space.Wait()
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	// The flusher is woken when the first bytes arrive; while there are pending
	// bytes, it is awake or a wake-up is queued, and it sends these with them.
	wake := len(c.pending) == 0
	c.pending = append(c.pending, p...)
	c.mu.Unlock()
	if wake {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// flusher sends the pending bytes until Close or a write error.
func (c *coalescingConn) flusher() {
	defer close(c.exited)
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		// Let the goroutines that are ready to run (workers about to ack,
		// publishers) write first, so that one system call sends their frames too.
		runtime.Gosched()
		for {
			c.mu.Lock()
			if len(c.pending) == 0 || c.err != nil {
				c.mu.Unlock()
				break
			}
			out := c.pending
			c.pending, c.spare = c.spare[:0], nil
			c.space.Broadcast()
			c.mu.Unlock()

			_, err := c.Conn.Write(out)

			c.mu.Lock()
			if cap(out) <= maxPending {
				c.spare = out[:0]
			}
			first := err != nil && c.err == nil
			if first {
				c.err = err
				c.space.Broadcast()
			}
			c.mu.Unlock()
			if err != nil {
				// The reader fails at once, and amqp091-go shuts the connection
				// down. (If Close came first, it closes the socket.)
				if first {
					_ = c.Conn.Close()
				}
				return
			}
		}
	}
}

// closeFlushTimeout bounds how long Close spends sending the bytes still
// pending.
const closeFlushTimeout = time.Second

// Close stops the flusher, sends the bytes still pending (amqp091-go queues
// connection.close-ok and closes the socket at once) within closeFlushTimeout,
// and closes the socket. After a write error, pending bytes are dropped. A
// second Close returns net.ErrClosed.
func (c *coalescingConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		c.mu.Lock()
		flush := c.err == nil
		if c.err == nil {
			c.err = net.ErrClosed
		}
		c.space.Broadcast()
		c.mu.Unlock()
		close(c.done)
		if flush {
			// The deadline also ends a write of the flusher's that the peer
			// does not take.
			_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
			<-c.exited
			c.mu.Lock()
			out := c.pending
			c.pending = nil
			c.mu.Unlock()
			if len(out) > 0 { // fails at once if the flusher's write failed (it closed the socket)
				_, _ = c.Conn.Write(out)
			}
		}
		err = c.Conn.Close()
		<-c.exited // at once: the flusher has returned or is returning after a write error
	})
	return err
}
