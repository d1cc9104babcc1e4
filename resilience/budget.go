package resilience

import "time"

// BudgetOptions configure a [Budget]. The zero value allows retries of at most 20% of
// the requests of the last 10 seconds, plus 10 retries a second whatever the traffic.
type BudgetOptions struct {
	Ratio        float64       // retries per request; zero means 0.2
	MinPerSecond int           // retries always allowed per second; zero means 10
	Window       time.Duration // how far back requests count; zero means 10s
}

// Budget is a retry budget shared by many retry policies (per client, per host), so
// that retries cannot turn an outage into a storm. Every first attempt deposits into
// it and every retry withdraws from it. It is safe for concurrent use.
type Budget struct {
	opts BudgetOptions
}

// NewBudget returns a retry budget, or an error naming the option that is invalid.
func NewBudget(opts BudgetOptions) (*Budget, error) {
	// TODO: implement.
	return &Budget{opts: opts}, nil
}

// Deposit records one request (a first attempt).
func (b *Budget) Deposit() {}

// TryWithdraw takes one retry from the budget and reports whether it was allowed.
func (b *Budget) TryWithdraw() bool { return true }
