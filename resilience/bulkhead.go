package resilience

import "context"

// BulkheadOptions configure a [Bulkhead]. The zero value admits 100 concurrent calls
// and queues none.
type BulkheadOptions struct {
	Name          string // empty means "bulkhead"
	MaxConcurrent int    // zero means 100; negative is an error
	MaxQueue      int    // calls that may wait for a slot; zero means none; negative is an error
}

// Bulkhead limits concurrent executions, with a bounded queue of waiting callers.
// Waiting honours the context; a call that finds the queue full fails at once with
// [ErrBulkheadFull]. Safe for concurrent use; its happy path takes no lock.
type Bulkhead struct {
	name string
	opts BulkheadOptions
}

// NewBulkhead returns a bulkhead, or an error naming the option that is invalid.
func NewBulkhead(opts BulkheadOptions) (*Bulkhead, error) {
	// TODO: implement.
	if opts.Name == "" {
		opts.Name = "bulkhead"
	}
	return &Bulkhead{name: opts.Name, opts: opts}, nil
}

// Name returns the policy's name.
func (b *Bulkhead) Name() string { return b.name }
func (*Bulkhead) policy()        {}

// InFlight returns the number of calls running now, and Queued the number waiting.
func (b *Bulkhead) InFlight() int { return 0 }

// Queued returns the number of calls waiting for a slot.
func (b *Bulkhead) Queued() int { return 0 }

func runBulkhead[T any](ctx context.Context, b *Bulkhead, c chain[T], i int) (T, error) {
	// TODO: implement.
	return c.next(ctx, i)
}
