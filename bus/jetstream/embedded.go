package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configure [Embedded]. DataDir is required; the zero value of
// the rest runs a server with no network listener at all, reached only through
// an in-process connection, with the file store's default syncing (to the
// operating system at once, to the disk every two minutes).
type EmbeddedOptions struct {
	// DataDir is where the server keeps its streams (in DataDir/jetstream). It is
	// created if needed and survives the process: a server started again on it
	// finds every stream, consumer and message where they were. Two servers must
	// not use one DataDir at the same time.
	DataDir string
	// Listen, if set, is a host:port on which the server also accepts NATS
	// clients, such as "127.0.0.1:4222" for the nats command-line tool or other
	// processes; port 0 picks a free port ([Transport.ClientURL] tells which).
	// Empty means no listener. The transport itself always uses an in-process
	// connection.
	Listen string
	// SyncAlways makes the server sync every write to the disk before
	// acknowledging it, so that a power cut loses nothing acknowledged; slower.
	// By default a write survives the process being killed, and reaches the disk
	// within two minutes.
	SyncAlways bool
	// StartTimeout bounds the wait for the server to be ready. Zero means 10s.
	StartTimeout time.Duration
	// Options configure the transport over the server.
	Options Options
}

// Embedded starts a NATS server with JetStream in this process, storing its
// streams in opts.DataDir, waits until it is ready, connects to it in-process
// (no port, unless opts.Listen asks for one), declares the streams, and returns
// the transport. [Transport.Close] closes the connection and shuts the server
// down cleanly; the data directory keeps everything for the next start.
func Embedded(ctx context.Context, opts EmbeddedOptions) (*Transport, error) {
	o, err := opts.Options.normalize()
	if err != nil {
		return nil, err
	}
	if opts.DataDir == "" {
		return nil, errors.New("jetstream: EmbeddedOptions.DataDir is empty; the embedded server needs a directory for its streams")
	}
	if opts.StartTimeout < 0 {
		return nil, fmt.Errorf("jetstream: EmbeddedOptions.StartTimeout is %s; want ≥ 0", opts.StartTimeout)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	sopts, err := serverOptions(opts)
	if err != nil {
		return nil, err
	}
	e := &embeddedServer{opts: sopts, timeout: opts.StartTimeout, log: o.Logger}
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	t := newTransportShell(o)
	nopts := append(t.natsOptions(ctx), nats.InProcessServer(e))
	nc, err := nats.Connect(e.url(), nopts...)
	if err != nil {
		e.shutdown()
		return nil, fmt.Errorf("jetstream: connect to the embedded server: %w", err)
	}
	if err := t.start(ctx, nc, e); err != nil {
		nc.Close()
		e.shutdown()
		return nil, err
	}
	return t, nil
}

// serverOptions returns the options of the embedded server.
func serverOptions(opts EmbeddedOptions) (*server.Options, error) {
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("jetstream: EmbeddedOptions.DataDir: %w", err)
	}
	so := &server.Options{
		ServerName: "rampart-embedded",
		JetStream:  true,
		StoreDir:   dir,
		DontListen: opts.Listen == "",
		NoSigs:     true,
		MaxPayload: 8 << 20, // the bus limits bodies to 1 MiB by default, headers come on top
		SyncAlways: opts.SyncAlways,
	}
	if opts.Listen != "" {
		host, port, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("jetstream: EmbeddedOptions.Listen %q: %w", opts.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("jetstream: EmbeddedOptions.Listen %q: port must be 0 to 65535", opts.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		if host == "" {
			host = "127.0.0.1"
		}
		so.Host, so.Port = host, p
	}
	return so, nil
}

// embeddedServer owns the in-process server. It is the connection's
// nats.InProcessConnProvider, so that the connection reaches whichever server
// runs now: after a restart on the same data directory, the client reconnects
// to the new one by itself.
type embeddedServer struct {
	opts    *server.Options
	timeout time.Duration
	log     *slog.Logger

	mu  sync.Mutex
	srv *server.Server

	restarting sync.Mutex // one [Transport.RestartServer] at a time
}

// start starts a server and waits until it is ready, with JetStream.
func (e *embeddedServer) start(ctx context.Context) error {
	so := *e.opts // the server keeps and changes its options
	s, err := server.NewServer(&so)
	if err != nil {
		return fmt.Errorf("jetstream: embedded server: %w", err)
	}
	s.SetLoggerV2(serverLogger{e.log}, false, false, false)
	go s.Start()
	wait := e.timeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		s.WaitForShutdown()
		return fmt.Errorf("jetstream: embedded server not ready after %s (data directory %s)", wait, e.opts.StoreDir)
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		s.WaitForShutdown()
		return fmt.Errorf("jetstream: embedded server started without JetStream (data directory %s); see its log (Options.Logger)", e.opts.StoreDir)
	}
	e.mu.Lock()
	e.srv = s
	e.mu.Unlock()
	return nil
}

// url is the URL the connection is created with; with an in-process connection
// it only names the server.
func (e *embeddedServer) url() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil && !e.opts.DontListen {
		return e.srv.ClientURL()
	}
	return "nats://in-process"
}

// InProcessConn returns a connection to the server that runs now.
func (e *embeddedServer) InProcessConn() (net.Conn, error) {
	e.mu.Lock()
	s := e.srv
	e.mu.Unlock()
	if s == nil {
		return nil, errors.New("jetstream: the embedded server is not running")
	}
	return s.InProcessConn()
}

// shutdown shuts the server down and waits for it.
func (e *embeddedServer) shutdown() {
	e.mu.Lock()
	s := e.srv
	e.srv = nil
	e.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// ClientURL returns the URL at which other processes reach the embedded server
// (with [EmbeddedOptions.Listen]), or "" when it has no listener or the
// transport is connected to an external server.
func (t *Transport) ClientURL() string {
	if t.embedded == nil || t.embedded.opts.DontListen {
		return ""
	}
	t.embedded.mu.Lock()
	defer t.embedded.mu.Unlock()
	if t.embedded.srv == nil {
		return ""
	}
	return t.embedded.srv.ClientURL()
}

// serverLogger sends the embedded server's log to a slog.Logger. A fatal error
// of the server is logged, not exited on.
type serverLogger struct{ l *slog.Logger }

func (l serverLogger) Noticef(format string, v ...any) {
	l.l.Debug(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (l serverLogger) Warnf(format string, v ...any) {
	l.l.Warn(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (l serverLogger) Fatalf(format string, v ...any) {
	l.l.Error(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (l serverLogger) Errorf(format string, v ...any) {
	l.l.Error(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (l serverLogger) Debugf(format string, v ...any) {}
func (l serverLogger) Tracef(format string, v ...any) {}
