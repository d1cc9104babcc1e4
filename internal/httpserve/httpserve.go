// Package httpserve runs an [http.Handler] on an HTTP server of its own, with the
// lifecycle the simulators share: start once (on an address or a listener), stop
// gracefully or at once, more than once, and never start again after stopping.
//
// Connections that have not sent a request yet (a client's spare connections) are
// tracked and closed as soon as Shutdown begins, so that [http.Server.Shutdown]
// does not wait for them (it polls such connections for about 5s).
package httpserve

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrStarted is returned by [Server.Start] and [Server.Serve] when the server is
// already serving, or was stopped.
var ErrStarted = errors.New("httpserve: server already started or stopped")

// Server serves a handler until Shutdown or Close. Its zero value is not usable:
// call [New]. A Server is safe for concurrent use.
type Server struct {
	srv *http.Server

	mu   sync.Mutex // guards addr and used
	addr net.Addr   // set by Start or Serve
	used bool       // Start or Serve was called, or the server was stopped

	serving sync.WaitGroup // the goroutine of Start
	done    chan struct{}  // closed when Shutdown or Close is first called
	once    sync.Once

	connMu sync.Mutex
	fresh  map[net.Conn]struct{} // connections that have not sent a request yet
}

// New returns a server for h that does not listen until [Server.Start] or
// [Server.Serve]. It reads request headers for up to 10s, keeps idle connections
// for a minute, and discards the errors net/http would log.
func New(h http.Handler) *Server {
	s := &Server{done: make(chan struct{}), fresh: make(map[net.Conn]struct{})}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnState:         s.trackConn,
	}
	// http.Server.Shutdown waits up to 5s for connections that have not sent a
	// request yet: close them at once instead.
	s.srv.RegisterOnShutdown(s.closeFresh)
	return s
}

// Start listens on addr (such as "127.0.0.1:0") and serves in a goroutine of the
// server's until [Server.Shutdown] or [Server.Close]. It returns [ErrStarted] if
// the server was started or stopped before, or the error of [net.Listen].
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used {
		return ErrStarted
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.used, s.addr = true, l.Addr()
	s.serving.Go(func() { _ = s.srv.Serve(l) })
	return nil
}

// Serve serves on l until [Server.Shutdown] or [Server.Close], and then returns
// [http.ErrServerClosed]. It returns [ErrStarted] at once if the server was started
// or stopped before.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.used {
		s.mu.Unlock()
		return ErrStarted
	}
	s.used, s.addr = true, l.Addr()
	s.mu.Unlock()
	return s.srv.Serve(l)
}

// Addr returns the address the server listens on, or nil before Start or Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL returns "http://" and the address the server listens on, or "" before Start
// or Serve.
func (s *Server) URL() string {
	if a := s.Addr(); a != nil {
		return "http://" + a.String()
	}
	return ""
}

// Done returns a channel closed when Shutdown or Close is first called, for
// handlers to cut their waits short.
func (s *Server) Done() <-chan struct{} { return s.done }

// Shutdown stops the server gracefully: it closes [Server.Done], stops listening,
// closes the connections that have not sent a request, lets the answers under way
// finish, and returns when they have, or when ctx is done (then it closes what is
// left and returns ctx's error). It may be called more than once, and after Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.release()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	s.serving.Wait()
	return err
}

// Close stops the server at once: it closes [Server.Done], the listener and every
// connection, and returns the error of [http.Server.Close]. It may be called more
// than once.
func (s *Server) Close() error {
	s.release()
	err := s.srv.Close()
	s.serving.Wait()
	return err
}

// FreshConns returns the number of open connections that have not sent a request
// yet.
func (s *Server) FreshConns() int {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return len(s.fresh)
}

func (s *Server) release() {
	s.once.Do(func() {
		s.mu.Lock()
		s.used = true // no Start after Shutdown or Close
		s.mu.Unlock()
		close(s.done)
	})
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if st == http.StateNew {
		s.fresh[c] = struct{}{}
	} else {
		delete(s.fresh, c)
	}
}

func (s *Server) closeFresh() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.fresh {
		_ = c.Close()
		delete(s.fresh, c)
	}
}
