package outbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/internal/sqldb"
	"github.com/rampart-go/rampart/resilience"
)

// Publisher is where a relay publishes: a [bus.Transport] (pass the transport of
// your [bus.Bus]). Publish must return only once the broker has confirmed every
// message, or an error; an error that matches [bus.ErrUnroutable] parks the row
// once its [RelayOptions.UnroutableGrace] is over (see [ParkUnroutable]). It may publish the messages of one call in any order,
// and after an error some of them may have been confirmed: the relay never passes
// two messages of one ordering key, or of two event types, in one call.
type Publisher interface {
	Publish(ctx context.Context, msgs ...bus.Message) error
}

// RelayOptions configure a [Relay]. The zero value relays the default outbox
// (rampart_outbox) in batches of 100, leases rows for 30s on PostgreSQL, publishes
// with a 10s timeout, polls every second on PostgreSQL (where LISTEN/NOTIFY wakes
// it at once) and every 100ms on SQLite, backs off from 100ms to 30s when
// publishing fails, parks the rows no subscription is bound to once they are a
// minute old and retries the others for as long as they fail, deletes sent rows after 24 hours (looking
// every minute), holds the SQLite relay lock for 20s at a time, and logs nothing.
type RelayOptions struct {
	// TablePrefix starts the names of the outbox's tables, as in [Options]. Empty
	// means [DefaultTablePrefix].
	TablePrefix string
	// Dialect is the database's SQL dialect. Zero tells it from the database/sql
	// driver; [NewPgxRelay] ignores it.
	Dialect Dialect
	// ID names this relay in the claimed_by column and the SQLite lock, for
	// operators. Empty means "<host>-<pid>-<random>". Two running relays must not
	// share an ID.
	ID string
	// BatchSize is the most rows claimed and published at once. Zero means 100.
	BatchSize int
	// Lease is how long a PostgreSQL relay holds the rows it claimed. If it dies,
	// another relay publishes them after the lease; a relay stops publishing a batch
	// before four fifths of its lease are over. Zero means 30s; it must exceed five
	// fourths of PublishTimeout.
	Lease time.Duration
	// PublishTimeout bounds one call to the publisher. Zero means 10s, or half the
	// Lease if that is shorter.
	PublishTimeout time.Duration
	// PollInterval is the longest wait between two looks at the table when nothing
	// wakes the relay. Zero means 1s on PostgreSQL, where LISTEN/NOTIFY wakes it when
	// a transaction that added rows commits, and 100ms on SQLite, where
	// [Relay.Notify] does.
	PollInterval time.Duration
	// Backoff computes the wait before a row whose publication failed is tried
	// again (its attempts counted in the row), and the relay's pause after a batch of
	// which nothing could be published, or when the database fails. The zero value
	// is exponential from 100ms to 30s with full jitter.
	Backoff resilience.Backoff
	// MaxAttempts is the number of failed publications of one row (a relay that
	// died holding it counts as one) after which the relay parks it (reason
	// [ParkMaxAttempts]) instead of trying again: it keeps
	// its last error, is counted in [Backlog.Parked], holds back nothing, and waits
	// for [ReplayParked]. Every failed publication counts, whatever its cause,
	// broker outages included: the relay cannot tell a message the broker refuses
	// from a broker that is down, so with a small MaxAttempts an outage that lasts
	// parks rows, one after another (each failed batch counts a failure against the
	// first row it tried), and they then wait for an operator. Zero means no
	// limit: a row is retried for as long as it fails, since a broker that is down
	// fails every row and parking them all would only move the outage to an
	// operator. A row that the publisher reports unroutable ([bus.ErrUnroutable])
	// after its UnroutableGrace is parked at that failure, whatever MaxAttempts
	// says; within the grace, its failures count like any other.
	MaxAttempts int
	// UnroutableGrace is how long after a row was added (its created_at) a
	// publication that the publisher reports unroutable ([bus.ErrUnroutable]: no
	// subscription bound to the event's type) is retried rather than parked: the
	// consuming service may not have declared its queue yet, as when a producer
	// starts before its consumers. Within the grace such a row is an ordinary
	// failed row: it waits for its [RelayOptions.Backoff] (but no later than the
	// end of the grace), holding back the later rows of its key, and its failures
	// count towards MaxAttempts (reaching it
	// parks the row, reason [ParkMaxAttempts]); unlike other failures, it does not
	// stop the batch, since the broker is up. The first unroutable failure after
	// the grace parks it, reason [ParkUnroutable]. Zero means one minute; negative
	// parks a row at its first unroutable failure. created_at is the database's
	// clock: on PostgreSQL the start of the adding transaction.
	UnroutableGrace time.Duration
	// OnPark, if set, is called for each row the relay parks, after it is
	// recorded, on the relay's goroutine and with no lock held: count them, alert.
	// It must not block for long: the relay waits for it.
	OnPark func(Parked)
	// Retention is how long sent rows are kept before they are deleted. Zero means
	// 24 hours; negative keeps them.
	Retention time.Duration
	// CleanupInterval is the time between two deletions of expired sent rows (in
	// batches of 1,000). Zero means one minute.
	CleanupInterval time.Duration
	// LockTTL is how long the SQLite relay lock lasts unless renewed; the holder
	// renews it every LockTTL/3. After a crash, the next relay takes over within
	// LockTTL. Zero means 15s or twice PublishTimeout, whichever is longer; it must
	// exceed five fourths of PublishTimeout.
	LockTTL time.Duration
	// Standby makes a SQLite relay that finds the lock held wait for it instead of
	// failing Start with [ErrLocked]: it takes over when the holder stops or its
	// lock expires.
	Standby bool
	// Logger receives the relay's logs (failed publications, lost leases). Nil
	// logs nothing.
	Logger *slog.Logger
}

const (
	defaultBatchSize       = 100
	defaultLease           = 30 * time.Second
	defaultPublishTimeout  = 10 * time.Second
	defaultPollPostgres    = time.Second
	defaultPollSQLite      = 100 * time.Millisecond
	defaultRetention       = 24 * time.Hour
	defaultCleanupInterval = time.Minute
	defaultLockTTL         = 15 * time.Second
	defaultUnroutableGrace = time.Minute
	cleanupBatch           = 1000
	closeTimeout           = 5 * time.Second
)

// normalize fills in defaults and validates; errors name the option.
func (o RelayOptions) normalize(d Dialect) (RelayOptions, error) {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("outbox: RelayOptions.%s is %v; want %s", field, v, want)
	}
	switch {
	case o.BatchSize < 0:
		return o, bad("BatchSize", o.BatchSize, "≥ 0")
	case o.Lease < 0:
		return o, bad("Lease", o.Lease, "≥ 0")
	case o.PublishTimeout < 0:
		return o, bad("PublishTimeout", o.PublishTimeout, "≥ 0")
	case o.PollInterval < 0:
		return o, bad("PollInterval", o.PollInterval, "≥ 0")
	case o.CleanupInterval < 0:
		return o, bad("CleanupInterval", o.CleanupInterval, "≥ 0")
	case o.LockTTL < 0:
		return o, bad("LockTTL", o.LockTTL, "≥ 0")
	case o.MaxAttempts < 0:
		return o, bad("MaxAttempts", o.MaxAttempts, "≥ 0")
	}
	if err := o.Backoff.Validate(); err != nil {
		return o, fmt.Errorf("outbox: RelayOptions.%w", err)
	}
	if o.BatchSize == 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.Lease == 0 {
		o.Lease = defaultLease
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = min(defaultPublishTimeout, o.Lease/2)
	}
	if o.PollInterval == 0 {
		o.PollInterval = defaultPollPostgres
		if d == SQLite {
			o.PollInterval = defaultPollSQLite
		}
	}
	if o.Retention == 0 {
		o.Retention = defaultRetention
	}
	if o.CleanupInterval == 0 {
		o.CleanupInterval = defaultCleanupInterval
	}
	if o.LockTTL == 0 {
		o.LockTTL = max(defaultLockTTL, 2*o.PublishTimeout)
	}
	if o.UnroutableGrace == 0 {
		o.UnroutableGrace = defaultUnroutableGrace
	}
	if o.PublishTimeout >= o.Lease*4/5 {
		return o, bad("PublishTimeout", o.PublishTimeout, fmt.Sprintf("less than four fifths of Lease (%s)", o.Lease))
	}
	if d == SQLite && o.PublishTimeout >= o.LockTTL*4/5 {
		return o, bad("PublishTimeout", o.PublishTimeout, fmt.Sprintf("less than four fifths of LockTTL (%s)", o.LockTTL))
	}
	if o.ID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "relay"
		}
		o.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:8])
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Relay publishes the rows of an outbox table that committed transactions added,
// through a [Publisher], and marks them sent once the broker has confirmed them.
// It keeps the order of rows per ordering key, retries with backoff while the
// broker is down, and deletes sent rows after the retention period.
//
// On PostgreSQL any number of relays may run on one database: they share the
// rows, never holding one row (or two rows of one key) at the same time. On SQLite
// one relay runs per database file, enforced by a lock row. See the package
// documentation for the details.
//
// Build a Relay with [NewRelay] or [NewPgxRelay], then [Relay.Start] it; [Relay.Close]
// stops it. A Relay is safe for concurrent use.
type Relay struct {
	db      database
	dialect Dialect
	pub     Publisher
	opts    RelayOptions
	log     *slog.Logger
	store   *store
	prefix  string
	channel string // PostgreSQL notification channel
	lock    *fileLock

	wake chan struct{} // buffered: a wake-up is never lost, and never blocks
	// added says that a transaction of this process added rows (SQLite): the
	// next claim waits for the write lock, that is for that transaction's end.
	added  atomic.Bool
	onIdle func() // tests: called each time the relay has found nothing and waits

	mu     sync.Mutex
	state  relayState
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

type relayState uint8

const (
	relayNew relayState = iota
	relayRunning
	relayClosed
)

// NewRelay returns a relay of the outbox in db, PostgreSQL (through the pgx stdlib
// driver, or another: then without LISTEN/NOTIFY) or SQLite, that publishes
// through pub. It checks the options and tells the dialect; it does not touch the
// database before Start.
func NewRelay(db *sql.DB, pub Publisher, opts RelayOptions) (*Relay, error) {
	if db == nil {
		return nil, errors.New("outbox: NewRelay: db is nil")
	}
	d, err := detectDialect(db, opts.Dialect)
	if err != nil {
		return nil, err
	}
	return newRelay(sqlDB{sqldb.NewSQL(db)}, d, pub, opts)
}

// NewPgxRelay is [NewRelay] for a pgx pool (PostgreSQL). opts.Dialect is ignored.
// The relay's LISTEN takes one connection out of the pool for as long as it runs.
func NewPgxRelay(pool *pgxpool.Pool, pub Publisher, opts RelayOptions) (*Relay, error) {
	if pool == nil {
		return nil, errors.New("outbox: NewPgxRelay: pool is nil")
	}
	return newRelay(pgxDB{sqldb.NewPgx(pool)}, Postgres, pub, opts)
}

func newRelay(db database, d Dialect, pub Publisher, opts RelayOptions) (*Relay, error) {
	if pub == nil {
		return nil, errors.New("outbox: NewRelay: publisher is nil")
	}
	prefix, err := checkPrefix(opts.TablePrefix)
	if err != nil {
		return nil, err
	}
	if opts, err = opts.normalize(d); err != nil {
		return nil, err
	}
	r := &Relay{
		db:      db,
		dialect: d,
		pub:     pub,
		opts:    opts,
		log:     opts.Logger.With("outbox", prefix+"outbox", "relay", opts.ID),
		store:   newStore(db, d, prefix, opts.ID),
		prefix:  prefix,
		channel: prefix + "outbox",
		wake:    make(chan struct{}, 1),
	}
	if d == SQLite {
		r.lock = newFileLock(db, prefix+"outbox_relay", opts.ID, opts.LockTTL)
	}
	return r, nil
}

// ID returns the relay's ID (see [RelayOptions.ID]).
func (r *Relay) ID() string { return r.opts.ID }

// Start applies the schema migrations ([Migrate]), then on SQLite takes the relay
// lock (returning a [*LockedError] if another relay holds it, unless
// [RelayOptions.Standby]), and on PostgreSQL LISTENs for new rows; then it starts
// publishing in the background, at once for the rows already there. ctx bounds
// these first steps only. Start may be called once.
func (r *Relay) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state {
	case relayRunning:
		return ErrStarted
	case relayClosed:
		return ErrClosed
	}
	if err := migrate(ctx, r.db, r.dialect, r.prefix); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	fail := func(err error) error {
		cancel()
		r.wg.Wait()
		return err
	}
	switch r.dialect {
	case SQLite:
		held, err := r.lock.acquire(ctx)
		if err != nil {
			return fail(fmt.Errorf("outbox: relay lock: %w", err))
		}
		if !held {
			lerr := r.lock.holder(ctx)
			if !r.opts.Standby {
				return fail(lerr)
			}
			r.log.Info("outbox: standing by for the relay lock", "err", lerr)
		}
		r.wg.Go(func() { r.keepLock(rctx) })
	case Postgres:
		ready := make(chan error, 1)
		r.wg.Go(func() { r.listen(rctx, ready) })
		select {
		case err := <-ready:
			if errors.Is(err, errNoListen) {
				r.log.Info("outbox: the driver cannot LISTEN; polling only", "every", r.opts.PollInterval)
			} else if err != nil {
				return fail(fmt.Errorf("outbox: LISTEN %s: %w", r.channel, err))
			}
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	r.wg.Go(func() { r.run(rctx) })
	r.cancel = cancel
	r.state = relayRunning
	if r.dialect == SQLite {
		local.add(r.store.table, r)
	}
	return nil
}

// Close stops the relay: it cancels the batch being published (rows already
// confirmed are still marked sent; the others are released for the next relay),
// waits for every goroutine of the relay, and on SQLite releases the lock so that
// a standby relay takes over at once. Close is idempotent; it does not close the
// database or the publisher.
func (r *Relay) Close() error {
	r.once.Do(func() {
		r.mu.Lock()
		prev := r.state
		r.state = relayClosed
		cancel := r.cancel
		r.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		local.remove(r.store.table, r)
		r.wg.Wait()
		if prev == relayRunning && r.lock != nil {
			ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			defer cancel()
			if err := r.lock.release(ctx); err != nil {
				r.log.Warn("outbox: releasing the relay lock", "err", err)
			}
		}
	})
	return nil
}

// Notify wakes the relay to look for rows now rather than at its next poll. It
// is rarely needed: on PostgreSQL the NOTIFY of the adding transaction wakes
// every relay, and on SQLite [Outbox.Write] and [Outbox.Add] wake the relays of
// their outbox that run in the same process, which wait for the transaction to
// commit. Call it after changing the table by other means (SQL of your own,
// [ReplayParked] on SQLite). It never blocks, and does nothing after Close.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// rowsAdded tells the relay that a transaction of this process has added rows
// to its outbox and may not have committed yet: the next claim waits for it.
func (r *Relay) rowsAdded() {
	r.added.Store(true)
	r.Notify()
}

// run is the relay's loop: publish while there is something to publish, then
// wait for a wake-up or the poll interval.
func (r *Relay) run(ctx context.Context) {
	var (
		failures    int
		prevDelay   time.Duration
		nextCleanup = time.Now() // clean up once at start, then every interval
		timer       = time.NewTimer(0)
	)
	defer timer.Stop()
	wait := func(d time.Duration, wakeable bool) bool {
		timer.Reset(d)
		defer timer.Stop()
		var wake <-chan struct{}
		if wakeable {
			wake = r.wake
		}
		select {
		case <-ctx.Done():
			return false
		case <-wake:
		case <-timer.C:
		}
		return true
	}
	<-timer.C
	for ctx.Err() == nil {
		if r.lock != nil && !r.lock.held() {
			if !wait(r.opts.PollInterval, true) { // the lock keeper wakes us on takeover
				return
			}
			continue
		}
		if r.opts.Retention > 0 && !time.Now().Before(nextCleanup) {
			r.cleanup(ctx)
			nextCleanup = time.Now().Add(r.opts.CleanupInterval)
		}
		n, err := r.cycle(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			prevDelay = r.opts.Backoff.Delay(failures, prevDelay)
			r.log.Warn("outbox: relay cycle failed; backing off", "failures", failures, "wait", prevDelay, "err", err)
			if !wait(prevDelay, false) {
				return
			}
			continue
		}
		failures, prevDelay = 0, 0
		if n > 0 {
			continue // there may be more: look again at once
		}
		if r.onIdle != nil {
			r.onIdle()
		}
		if !wait(r.opts.PollInterval, true) {
			return
		}
	}
}

// cycle claims a batch, publishes it and records the outcome. It returns the
// number of rows published or parked, and an error when the database failed or
// nothing of a batch of several rows could be published and a publication
// failed otherwise than unroutable (the broker is down, most likely): then the
// relay pauses. A single row that fails only waits for its own backoff, or is
// parked; rows reported unroutable within their grace do not pause the relay,
// even with the rows of their keys they hold back the whole batch: the broker
// answered.
func (r *Relay) cycle(ctx context.Context) (int, error) {
	start := time.Now()
	locked := r.dialect == SQLite && r.added.Swap(false)
	batch, err := r.store.claim(ctx, r.opts.BatchSize, r.opts.Lease, locked)
	if err != nil {
		if locked {
			r.added.Store(true) // wait for the adding transaction next time too
		}
		return 0, fmt.Errorf("outbox: claim: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	deadline := start.Add(r.opts.Lease * 4 / 5)
	if r.lock != nil {
		deadline = r.lock.deadline()
	}
	res := r.publish(ctx, batch, deadline)
	sent := res.sent

	// Record the outcome even when ctx was cancelled by Close: a row published and
	// not marked would be published again.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	seqs := make([]int64, len(sent))
	done := make(map[int64]bool, len(batch))
	for i, rw := range sent {
		seqs[i] = rw.seq
		done[rw.seq] = true
	}
	marked, merr := r.store.markSent(sctx, seqs)
	if merr == nil && marked < int64(len(seqs)) {
		r.log.Warn("outbox: lease ran out before rows were marked sent; another relay may publish them again",
			"published", len(seqs), "marked", marked)
	}
	var parked []Parked
	// attemptsOf returns the failed publications of rw, this one included.
	attemptsOf := func(rw row) int {
		if r.dialect == SQLite {
			return rw.attempts + 1 // counted by fail or park
		}
		return rw.attempts // counted at the claim on PostgreSQL
	}
	park := func(rw row, reason ParkReason, attempts int, perr error) {
		done[rw.seq] = true
		p := Parked{ID: rw.msg.ID, Type: rw.msg.Type, Key: rw.msg.Key, Reason: reason, Attempts: attempts, Err: perr}
		ok, err := r.store.park(sctx, rw.seq, reason, perr)
		switch {
		case err != nil:
			merr = errors.Join(merr, err)
		case ok:
			r.log.Warn("outbox: event parked; it is not published until replayed", "id", p.ID, "type", p.Type,
				"key", p.Key, "reason", p.Reason, "attempts", p.Attempts, "err", perr)
			parked = append(parked, p)
		}
	}
	// retry records a failed publication of rw: it waits for its backoff, or is
	// parked after MaxAttempts. An unroutable row waits no later than the end of
	// its grace, so that it is parked then rather than a long backoff later.
	retry := func(rw row, perr error, unroutable bool) {
		attempts := attemptsOf(rw)
		if r.opts.MaxAttempts > 0 && attempts >= r.opts.MaxAttempts {
			park(rw, ParkMaxAttempts, attempts, perr)
			return
		}
		done[rw.seq] = true
		delay := r.opts.Backoff.Delay(attempts, 0)
		if unroutable {
			delay = max(0, min(delay, r.graceLeft(&rw)))
		}
		r.log.Warn("outbox: publish failed; will retry", "id", rw.msg.ID, "type", rw.msg.Type,
			"attempts", attempts, "retry_in", delay, "err", perr)
		if err := r.store.fail(sctx, rw.seq, delay, perr); err != nil {
			merr = errors.Join(merr, err)
		}
	}
	for i, rw := range res.unroutable {
		park(rw, ParkUnroutable, attemptsOf(rw), res.unrErrs[i])
	}
	for i, rw := range res.early {
		retry(rw, res.earlyErrs[i], true)
	}
	if rw := res.failed; rw != nil {
		retry(*rw, res.failedErr, false)
	}
	var rest []int64
	for _, rw := range batch {
		if !done[rw.seq] {
			rest = append(rest, rw.seq)
		}
	}
	if err := r.store.release(sctx, rest); err != nil {
		merr = errors.Join(merr, err)
	}
	if r.opts.OnPark != nil {
		for _, p := range parked {
			r.opts.OnPark(p)
		}
	}
	if merr != nil {
		return len(sent) + len(parked), fmt.Errorf("outbox: recording a batch: %w", merr)
	}
	if len(sent) == 0 && len(parked) == 0 && res.failed != nil && len(batch) > 1 {
		return 0, fmt.Errorf("outbox: publish: %w", res.err)
	}
	return len(sent) + len(parked), nil
}

// graceOver says whether rw, reported unroutable now, is past its
// [RelayOptions.UnroutableGrace]: to be parked rather than tried again.
func (r *Relay) graceOver(rw *row) bool {
	return r.opts.UnroutableGrace < 0 || r.graceLeft(rw) <= 0
}

// graceLeft is how long rw's [RelayOptions.UnroutableGrace] has to run.
func (r *Relay) graceLeft(rw *row) time.Duration {
	return r.opts.UnroutableGrace - time.Since(rw.added)
}

// published is what [Relay.publish] did with a batch.
type published struct {
	sent       []row   // confirmed, in seq order: to mark sent
	unroutable []row   // reported unroutable after their grace, in seq order: to park
	unrErrs    []error // the error of each row of unroutable
	early      []row   // reported unroutable within their grace: they wait, or are parked for MaxAttempts
	earlyErrs  []error // the error of each row of early
	failed     *row    // the first row that failed otherwise: it waits, or is parked
	failedErr  error   // failed's error
	err        error   // the last error of a call, if any
}

// publish publishes batch in order, in calls that hold at most one row of each
// ordering key, and rows of one event type only (see [calls]): a publisher may
// publish the messages of one call in parallel (RabbitMQ does). The rows of a call
// that succeeded are sent, never tried again. After a call of several rows fails,
// some of them may have been confirmed (RabbitMQ publishes the routable ones of a
// call that returns [bus.ErrUnroutable]): its rows are published again one by
// one, to tell which failed. A repeat carries the same event ID, which duplicate
// detection absorbs; since unroutability follows the event type, which a call
// holds one of, a call that fails only because its type is unroutable publishes
// nothing, and its rows are not repeated.
//
// A row reported unroutable after its [RelayOptions.UnroutableGrace] is to be
// parked: that gives up its place in its key, so the later rows of its key go on.
// One reported unroutable within its grace waits (or is parked for MaxAttempts)
// and so do the later rows of its key, but the batch goes on: unroutability is
// the event type's, not the broker's. The first row that fails otherwise waits
// (or is parked for MaxAttempts) and so do the later rows of its key; the other
// keys go on, unless a second row fails otherwise (the broker, most likely, rather
// than one message): then publish stops. It also stops at deadline, and when ctx
// ends (closing), then without judging the call that was cut short.
func (r *Relay) publish(ctx context.Context, batch []row, deadline time.Time) (res published) {
	call := func(msgs ...bus.Message) error {
		d := time.Now().Add(r.opts.PublishTimeout)
		if deadline.Before(d) {
			d = deadline
		}
		pctx, cancel := context.WithDeadline(ctx, d)
		defer cancel()
		return r.pub.Publish(pctx, msgs...)
	}
	live := func() bool { return ctx.Err() == nil && time.Now().Before(deadline) }
	waiting := map[string]bool{} // keys whose row failed and waits
	// settle records that rw, published alone, returned err, and says whether to
	// go on.
	settle := func(rw *row, err error) bool {
		if err != nil {
			res.err = err
		}
		switch {
		case err == nil:
			res.sent = append(res.sent, *rw)
		case ctx.Err() != nil:
			return false // closing: the error may be the cancellation's
		case errors.Is(err, bus.ErrUnroutable) && r.graceOver(rw):
			res.unroutable = append(res.unroutable, *rw)
			res.unrErrs = append(res.unrErrs, err)
		case errors.Is(err, bus.ErrUnroutable):
			res.early = append(res.early, *rw)
			res.earlyErrs = append(res.earlyErrs, err)
			if rw.msg.Key != "" {
				waiting[rw.msg.Key] = true
			}
		case res.failed != nil:
			return false // a second failure
		default:
			res.failed, res.failedErr = rw, err
			if rw.msg.Key != "" {
				waiting[rw.msg.Key] = true
			}
		}
		return true
	}
	defer func() {
		bySeq := func(a, b row) int { return cmp.Compare(a.seq, b.seq) }
		slices.SortFunc(res.sent, bySeq)
	}()
	for _, c := range calls(batch) {
		rows := make([]*row, 0, len(c))
		msgs := make([]bus.Message, 0, len(c))
		for _, j := range c {
			if rw := &batch[j]; rw.msg.Key == "" || !waiting[rw.msg.Key] {
				rows = append(rows, rw)
				msgs = append(msgs, rw.msg)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if !live() {
			return res
		}
		err := call(msgs...)
		if err == nil {
			for _, rw := range rows {
				res.sent = append(res.sent, *rw)
			}
			continue
		}
		if len(rows) == 1 {
			if !settle(rows[0], err) {
				return res
			}
			continue
		}
		res.err = err
		if ctx.Err() != nil {
			return res // closing: no time to look for the failing rows
		}
		for _, rw := range rows {
			if !live() || !settle(rw, call(rw.msg)) {
				return res
			}
		}
	}
	return res
}

// calls splits batch (in seq order) into the calls that publish it, as lists of
// indexes in batch: each holds at most one row of each ordering key, and rows of
// one event type. They come in waves: wave i holds the i-th row of every key, in
// seq order, and wave 0 also the rows without a key; each wave is split by event
// type, in the order of the type's first row in the wave.
func calls(batch []row) [][]int {
	wave := make([]int, len(batch))
	seen := map[string]int{}
	n := 1
	for j, rw := range batch {
		if rw.msg.Key != "" {
			wave[j] = seen[rw.msg.Key]
			seen[rw.msg.Key]++
			n = max(n, wave[j]+1)
		}
	}
	waves := make([][]int, n)
	for j := range batch {
		waves[wave[j]] = append(waves[wave[j]], j)
	}
	var out [][]int
	for _, w := range waves {
		byType := map[string]int{} // type -> index in out
		for _, j := range w {
			typ := batch[j].msg.Type
			k, ok := byType[typ]
			if !ok {
				k = len(out)
				byType[typ] = k
				out = append(out, nil)
			}
			out[k] = append(out[k], j)
		}
	}
	return out
}

// cleanup deletes sent rows older than the retention, a batch at a time.
func (r *Relay) cleanup(ctx context.Context) {
	var total int64
	for range 100 {
		n, err := r.store.cleanup(ctx, r.opts.Retention, cleanupBatch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("outbox: deleting sent rows", "err", err)
			}
			break
		}
		if n < cleanupBatch || ctx.Err() != nil {
			break
		}
	}
	if total > 0 {
		r.log.Debug("outbox: deleted sent rows", "rows", total, "older_than", r.opts.Retention)
	}
}
