package rabbitmq

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestCoalescingConnDeliversEveryWriteInOrder writes from several goroutines at
// once: every write arrives whole, once, and each goroutine's in its order.
func TestCoalescingConnDeliversEveryWriteInOrder(t *testing.T) {
	client, server := tcpPair(t)
	cc := newCoalescingConn(client)
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var rec [12]byte
			for i := range each {
				binary.BigEndian.PutUint32(rec[0:], uint32(w))
				binary.BigEndian.PutUint64(rec[4:], uint64(i))
				if n, err := cc.Write(rec[:]); n != len(rec) || err != nil {
					t.Errorf("Write = %d, %v", n, err)
					return
				}
				rec = [12]byte{} // the conn must have copied it
			}
		})
	}
	next := make([]uint64, writers)
	r := bufio.NewReader(server)
	for range writers * each {
		var rec [12]byte
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			t.Fatalf("reading: %v (next records wanted: %v)", err, next)
		}
		w, i := binary.BigEndian.Uint32(rec[0:]), binary.BigEndian.Uint64(rec[4:])
		if w >= writers || i != next[w] {
			t.Fatalf("record %d of writer %d arrived, want %v", i, w, next)
		}
		next[w]++
	}
	wg.Wait()
	if err := cc.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, err := cc.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
}

// TestCoalescingConnReportsAWriteError: once the socket fails (the peer is
// gone), Write fails, and the socket is closed, so that amqp091-go's reader sees
// the loss at once.
func TestCoalescingConnReportsAWriteError(t *testing.T) {
	client, server := tcpPair(t)
	cc := newCoalescingConn(client)
	defer cc.Close()
	server.Close() // the peer answers the next bytes with a reset
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := cc.Write(make([]byte, 1024)); err != nil {
			if errors.Is(err, net.ErrClosed) {
				t.Errorf("Write = %v, want the socket's error, not net.ErrClosed", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Write kept succeeding with the peer gone")
		}
		time.Sleep(time.Millisecond) // the flusher fails asynchronously
	}
	// The flusher closed the socket: a reader of it fails at once. (The flusher
	// records the error before it closes the socket: wait for it to return.)
	<-cc.exited
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("reading the socket after the write error = %v, want net.ErrClosed", err)
	}
}

// TestCoalescingConnBoundsPendingBytes: with a peer that does not read, a writer
// waits once maxPending bytes are pending, and Close releases it.
func TestCoalescingConnBoundsPendingBytes(t *testing.T) {
	client, _ := tcpPair(t)
	cc := newCoalescingConn(client)
	done := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := cc.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}()
	// The socket's buffers fill, then maxPending: the writer waits.
	eventuallyInternal(t, "the writer to wait with maxPending bytes pending", func() bool {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return len(cc.pending) >= maxPending
	})
	select {
	case err := <-done:
		t.Fatalf("Write returned %v while the peer reads nothing", err)
	default:
	}
	if err := cc.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("the waiting Write returned %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release the waiting writer")
	}
}

// TestCoalescingConnCloseSendsPendingBytes: bytes written just before Close
// (amqp091-go writes connection.close-ok, then closes) reach the peer before the
// socket closes.
func TestCoalescingConnCloseSendsPendingBytes(t *testing.T) {
	for round := range 20 {
		client, server := tcpPair(t)
		cc := newCoalescingConn(client)
		received := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(server)
			received <- b
		}()
		var want []byte
		for i := range 64 {
			frame := make([]byte, 1000)
			for j := range frame {
				frame[j] = byte(i + j)
			}
			want = append(want, frame...)
			if _, err := cc.Write(frame); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		start := time.Now()
		if err := cc.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		if d := time.Since(start); d > closeFlushTimeout+time.Second {
			t.Errorf("Close took %v", d)
		}
		select {
		case got := <-received:
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d: the peer received %d bytes, want the %d written before Close", round, len(got), len(want))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the peer did not see the socket close")
		}
		if err := cc.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close = %v, want net.ErrClosed", err)
		}
	}
}

// TestCoalescingConnCloseOverPipe: over a synchronous net.Pipe, a frame written
// just before Close arrives; with a peer that stops reading, Close returns
// within its bound.
func TestCoalescingConnCloseOverPipe(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	cc := newCoalescingConn(client)
	received := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		received <- b
	}()
	if _, err := cc.Write([]byte("close-ok")); err != nil {
		t.Fatal(err)
	}
	if err := cc.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if got := <-received; string(got) != "close-ok" {
		t.Errorf("the peer received %q, want close-ok", got)
	}

	client, server = net.Pipe() // nobody reads server
	defer server.Close()
	cc = newCoalescingConn(client)
	if _, err := cc.Write([]byte("unread")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cc.Close()
	if d := time.Since(start); d > closeFlushTimeout+time.Second {
		t.Errorf("Close with a peer that does not read took %v, want at most about %v", d, closeFlushTimeout)
	}
}

func eventuallyInternal(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}
