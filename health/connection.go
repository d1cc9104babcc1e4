package health

import (
	"context"
	"errors"
	"fmt"
)

// ConnectionState is the state of a connection to a message broker, as a transport
// of package bus reports it (RabbitMQ, NATS). Its methods must be cheap, must not
// block, and must be safe for concurrent use; they take no context because they
// report what the transport already knows, without asking the broker.
type ConnectionState interface {
	// Connected reports whether the connection is up.
	Connected() bool
	// Blocked reports whether the broker is holding back publishes (RabbitMQ's
	// connection.blocked, when it runs short of memory or disk).
	Blocked() bool
	// ConsumersRunning returns how many consumers are receiving messages.
	ConsumersRunning() int
	// LastError returns the latest connection error, nil if none.
	LastError() error
}

// ConnectionOptions configure a [Connection] check. The zero value fails a
// disconnected connection, warns about a blocked one, and expects no consumers.
type ConnectionOptions struct {
	// MinConsumers is how many consumers must be running; fewer is a fail. Zero
	// means none are required; it must not be negative.
	MinConsumers int
	// BlockedStatus is the status of a connection the broker blocks. Empty means
	// StatusWarn: the service still consumes, but cannot publish.
	BlockedStatus Status
}

// ConnectionValue is the observed value of a [Connection] check.
type ConnectionValue struct {
	Connected        bool `json:"connected"`
	Blocked          bool `json:"blocked"`
	ConsumersRunning int  `json:"consumersRunning"`
}

// Connection returns a check of a broker connection, keyed "component:connection"
// and of type "system", that observes a [ConnectionValue]. It fails when the
// connection is down or fewer than MinConsumers consumers run, with the last error
// in the output, and reports a blocked connection with BlockedStatus. A nil conn or
// invalid options make [New] fail.
func Connection(component string, conn ConnectionState, opts ConnectionOptions) Check {
	c := Check{Component: component, Measurement: "connection", ComponentType: "system"}
	var errs []error
	if conn == nil {
		errs = append(errs, errors.New("Connection: the connection state is nil"))
	}
	if opts.MinConsumers < 0 {
		errs = append(errs, fmt.Errorf("ConnectionOptions.MinConsumers: must not be negative, got %d", opts.MinConsumers))
	}
	switch {
	case opts.BlockedStatus == "":
		opts.BlockedStatus = StatusWarn
	case !opts.BlockedStatus.valid():
		errs = append(errs, fmt.Errorf("ConnectionOptions.BlockedStatus: must be pass, warn or fail, got %q", opts.BlockedStatus))
	}
	if len(errs) > 0 {
		c.invalid = errors.Join(errs...)
		return c
	}
	c.Run = func(context.Context) (Result, error) {
		v := ConnectionValue{Connected: conn.Connected(), Blocked: conn.Blocked(), ConsumersRunning: conn.ConsumersRunning()}
		r := Result{ObservedValue: v}
		var problem string
		switch {
		case !v.Connected:
			r.Status, problem = StatusFail, "disconnected"
		case v.ConsumersRunning < opts.MinConsumers:
			r.Status, problem = StatusFail, fmt.Sprintf("%d of %d consumers running", v.ConsumersRunning, opts.MinConsumers)
		case v.Blocked:
			r.Status, problem = opts.BlockedStatus, "blocked by the broker"
		default:
			return r, nil
		}
		r.Output = problem
		if err := conn.LastError(); err != nil {
			r.Output += ": last error: " + err.Error()
		}
		return r, nil
	}
	return c
}

// RabbitMQ returns [Connection]("rabbitmq", conn, opts).
func RabbitMQ(conn ConnectionState, opts ConnectionOptions) Check {
	return Connection("rabbitmq", conn, opts)
}

// NATS returns [Connection]("nats", conn, opts).
func NATS(conn ConnectionState, opts ConnectionOptions) Check {
	return Connection("nats", conn, opts)
}
