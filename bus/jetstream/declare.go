package jetstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// streamConfigs returns the configurations of the events, dead-letter and
// redelivery streams.
//
// The events stream has interest retention: a message stays while a consumer
// whose filter matches it has not acknowledged (or terminated) it, and goes
// once every such consumer has. Each subscription is one durable consumer, so
// every subscription gets every event it binds (fan-out), and the instances of
// a subscription pull from the same consumer (competing consumers). A work-queue
// stream cannot fan out (filters may not overlap); a limits stream would keep
// handled events until MaxAge and let a new subscription read old ones.
//
// The dead-letter and redelivery streams have limits retention: a dead letter
// stays until someone removes it, and the redelivery stream keeps the last
// record of each delivery's scheduled redelivery.
func (t *Transport) streamConfigs() []natsjs.StreamConfig {
	o, n := t.opts, t.names
	return []natsjs.StreamConfig{{
		Name:        n.events,
		Description: "Rampart events: one durable consumer per subscription",
		Subjects:    []string{n.eventsAll},
		Retention:   natsjs.InterestPolicy,
		Storage:     natsjs.FileStorage,
		Replicas:    o.Replicas,
		Duplicates:  o.DuplicateWindow,
		MaxAge:      o.MaxAge,
	}, {
		Name:        n.dlq,
		Description: "Rampart dead letters: subject <prefix>.dlq.<subscription>",
		Subjects:    []string{n.dlqAll},
		Retention:   natsjs.LimitsPolicy,
		Storage:     natsjs.FileStorage,
		Replicas:    o.Replicas,
		Duplicates:  o.DuplicateWindow,
		MaxAge:      o.DeadLetterMaxAge,
	}, {
		Name:              n.redelivery,
		Description:       "Rampart redeliveries: the attempt and headers of each scheduled redelivery",
		Subjects:          []string{n.notesAll},
		Retention:         natsjs.LimitsPolicy,
		Storage:           natsjs.FileStorage,
		Replicas:          o.Replicas,
		MaxAge:            redeliveryNoteMaxAge,
		MaxMsgsPerSubject: 1,
	}}
}

// declareStreams creates the streams that do not exist and checks the others.
func (t *Transport) declareStreams(ctx context.Context) error {
	for _, cfg := range t.streamConfigs() {
		s, err := t.declareStream(ctx, cfg)
		if err != nil {
			return err
		}
		if cfg.Name == t.names.redelivery {
			t.notes = s
		}
	}
	return nil
}

// declareStream creates the stream of want, or checks the existing one.
func (t *Transport) declareStream(ctx context.Context, want natsjs.StreamConfig) (natsjs.Stream, error) {
	for range 3 {
		s, err := t.js.Stream(ctx, want.Name)
		if errors.Is(err, natsjs.ErrStreamNotFound) {
			s, err = t.js.CreateStream(ctx, want)
			if errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
				continue // created meanwhile, with another configuration: compare
			}
			if err != nil {
				return nil, fmt.Errorf("jetstream: create stream %s: %w", want.Name, t.explain(err))
			}
			return s, nil
		}
		if err != nil {
			return nil, fmt.Errorf("jetstream: stream %s: %w", want.Name, t.explain(err))
		}
		if err := compareStream(s.CachedInfo().Config, want); err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("jetstream: stream %s: created and changed concurrently; giving up", want.Name)
}

// explain adds what to do to errors that say JetStream is off.
func (t *Transport) explain(err error) error {
	if errors.Is(err, natsjs.ErrJetStreamNotEnabled) || errors.Is(err, natsjs.ErrJetStreamNotEnabledForAccount) {
		return fmt.Errorf("%w: start nats-server with -js (or jetstream {} in its configuration)", err)
	}
	return err
}

// compareStream reports the first field of have that conflicts with want.
func compareStream(have, want natsjs.StreamConfig) error {
	conflict := func(field, h, w, hint string) error {
		return &ConfigError{Kind: "stream", Name: want.Name, Field: field, Have: h, Want: w, Hint: hint}
	}
	const fix = "change or delete the stream, or use another Options.Prefix"
	for _, s := range want.Subjects {
		if !slices.Contains(have.Subjects, s) {
			return conflict("Subjects", fmt.Sprintf("%q", have.Subjects), fmt.Sprintf("%q among them", s), fix)
		}
	}
	if have.Retention != want.Retention {
		return conflict("Retention", have.Retention.String(), want.Retention.String(), fix)
	}
	if have.Storage != want.Storage {
		return conflict("Storage", have.Storage.String(), want.Storage.String(), fix)
	}
	if max(have.Replicas, 1) != want.Replicas {
		return conflict("Replicas", fmt.Sprint(max(have.Replicas, 1)), fmt.Sprint(want.Replicas), "set Options.Replicas to match, or "+fix)
	}
	if want.Duplicates != 0 && have.Duplicates != want.Duplicates {
		return conflict("Duplicates", have.Duplicates.String(), want.Duplicates.String(), "set Options.DuplicateWindow to match, or "+fix)
	}
	if have.MaxAge != want.MaxAge {
		opt := "Options.MaxAge"
		if want.Retention == natsjs.LimitsPolicy && want.MaxMsgsPerSubject == 0 {
			opt = "Options.DeadLetterMaxAge"
		}
		return conflict("MaxAge", durationText(have.MaxAge), durationText(want.MaxAge), "set "+opt+" to match, or "+fix)
	}
	if want.MaxMsgsPerSubject != 0 && have.MaxMsgsPerSubject != want.MaxMsgsPerSubject {
		return conflict("MaxMsgsPerSubject", fmt.Sprint(have.MaxMsgsPerSubject), fmt.Sprint(want.MaxMsgsPerSubject), fix)
	}
	return nil
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "0 (no limit)"
	}
	return d.String()
}

// consumer settings that do not depend on the subscription.
const (
	// maxDeclareAttempts bounds the retries of a declaration that races with
	// another process declaring the same consumer.
	maxDeclareAttempts = 5
)

// filterSubjects returns the subjects of the subscription's event types, sorted.
func (t *Transport) filterSubjects(sub bus.Subscription) []string {
	out := make([]string, 0, len(sub.EventTypes))
	for _, typ := range sub.EventTypes {
		out = append(out, t.names.eventSubject(typ))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// consumerFilters returns the filter subjects of a consumer configuration.
func consumerFilters(c natsjs.ConsumerConfig) []string {
	if len(c.FilterSubjects) > 0 {
		return c.FilterSubjects
	}
	if c.FilterSubject != "" {
		return []string{c.FilterSubject}
	}
	return nil
}

// setFilters sets the filter subjects of c: FilterSubject for one, which every
// server version takes, FilterSubjects for several.
func setFilters(c *natsjs.ConsumerConfig, subjects []string) {
	if len(subjects) == 1 {
		c.FilterSubject, c.FilterSubjects = subjects[0], nil
	} else {
		c.FilterSubject, c.FilterSubjects = "", subjects
	}
}

// ackWait returns the server's AckWait for sub: Options.AckWait, or the
// subscription's if shorter.
func (t *Transport) ackWait(sub bus.Subscription) time.Duration {
	if sub.AckWait > 0 && sub.AckWait < t.opts.AckWait {
		return sub.AckWait
	}
	return t.opts.AckWait
}

// maxDeliver returns the consumer's MaxDeliver: -1 for no limit.
func (t *Transport) maxDeliver() int {
	if t.opts.MaxDeliver > 0 {
		return t.opts.MaxDeliver
	}
	return -1
}

// declareConsumer creates the subscription's durable consumer on the events
// stream, or adds the subscription's event types to the existing one (bindings
// accumulate) and brings its AckWait, MaxDeliver and MaxAckPending up to date.
// A consumer the transport cannot use (a push consumer, another ack policy) is
// a [*ConfigError].
func (t *Transport) declareConsumer(ctx context.Context, sub bus.Subscription) (natsjs.Consumer, error) {
	subjects := t.filterSubjects(sub)
	if len(subjects) == 0 {
		return nil, fmt.Errorf("jetstream: subscribe %q: no event types", sub.Name)
	}
	var lastErr error
	for range maxDeclareAttempts {
		cons, err := t.js.Consumer(ctx, t.names.events, sub.Name)
		if errors.Is(err, natsjs.ErrConsumerNotFound) {
			if err := t.checkFilters(sub.Name, subjects); err != nil {
				return nil, err
			}
			cfg := natsjs.ConsumerConfig{
				Durable:       sub.Name,
				Description:   "Rampart subscription " + sub.Name,
				DeliverPolicy: natsjs.DeliverNewPolicy,
				AckPolicy:     natsjs.AckExplicitPolicy,
				AckWait:       sub.AckWait,
				MaxDeliver:    t.maxDeliver(),
				MaxAckPending: t.opts.MaxAckPending,
			}
			setFilters(&cfg, subjects)
			cons, err = t.js.CreateConsumer(ctx, t.names.events, cfg)
			if err == nil {
				return cons, nil
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("jetstream: create consumer %s: %w", sub.Name, err)
			}
			lastErr = err // created meanwhile by another process, perhaps: look again
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("jetstream: consumer %s: %w", sub.Name, t.explain(err))
		}
		have := cons.CachedInfo().Config
		if err := checkConsumer(have, sub.Name); err != nil {
			return nil, err
		}
		want := have
		merged := sortedFilters(have)
		if len(merged) > 0 { // no filter at all binds every event type already
			merged = append(merged, subjects...)
			slices.Sort(merged)
			merged = slices.Compact(merged)
			setFilters(&want, merged)
		}
		want.AckWait = sub.AckWait
		want.MaxDeliver = t.maxDeliver()
		if t.opts.MaxAckPending > 0 {
			want.MaxAckPending = t.opts.MaxAckPending
		}
		if slices.Equal(sortedFilters(have), merged) && have.AckWait == want.AckWait &&
			have.MaxDeliver == want.MaxDeliver && have.MaxAckPending == want.MaxAckPending {
			return cons, nil
		}
		if err := t.checkFilters(sub.Name, merged); err != nil {
			return nil, err
		}
		cons, err = t.js.UpdateConsumer(ctx, t.names.events, want)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("jetstream: update consumer %s: %w", sub.Name, err)
			}
			lastErr = fmt.Errorf("update: %w", err)
			continue
		}
		// Another process may have updated it at the same time with its own
		// event types: check that ours made it.
		if got := sortedFilters(cons.CachedInfo().Config); len(got) == 0 || containsAll(got, subjects) {
			return cons, nil
		}
		lastErr = errors.New("a concurrent update replaced the filter subjects")
	}
	return nil, fmt.Errorf("jetstream: declare consumer %s: %w", sub.Name, lastErr)
}

// checkFilters reports a consumer with several filter subjects on a server that
// does not take them.
func (t *Transport) checkFilters(name string, subjects []string) error {
	if len(subjects) > 1 && !t.multiFilter {
		return &ConfigError{Kind: "consumer", Name: name, Field: "FilterSubjects",
			Have: fmt.Sprintf("unsupported by NATS %s", t.nc.ConnectedServerVersion()),
			Want: fmt.Sprintf("%d subjects (%s)", len(subjects), strings.Join(subjects, ", ")),
			Hint: "a subscription that binds several event types needs NATS 2.10 or later"}
	}
	return nil
}

// checkConsumer reports a consumer the transport cannot use.
func checkConsumer(have natsjs.ConsumerConfig, name string) error {
	const fix = "delete the consumer or rename the subscription"
	if have.DeliverSubject != "" {
		return &ConfigError{Kind: "consumer", Name: name, Field: "DeliverSubject", Have: fmt.Sprintf("%q (a push consumer)", have.DeliverSubject), Want: `"" (a pull consumer)`, Hint: fix}
	}
	if have.AckPolicy != natsjs.AckExplicitPolicy {
		return &ConfigError{Kind: "consumer", Name: name, Field: "AckPolicy", Have: have.AckPolicy.String(), Want: natsjs.AckExplicitPolicy.String(), Hint: fix}
	}
	return nil
}

func sortedFilters(c natsjs.ConsumerConfig) []string {
	f := append([]string(nil), consumerFilters(c)...)
	slices.Sort(f)
	return f
}

func containsAll(have, want []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}
