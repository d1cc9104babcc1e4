package chaos

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/internal/customers/handlers"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/internal/customers/wiring"
)

// Config configures a rehearsal. The zero value is a 60s run at 20 requests a
// second on the embedded defaults in a temporary directory, with
// [DefaultSchedule].
type Config struct {
	// Duration is how long the load runs. Zero means 60s.
	Duration time.Duration
	// Rate is the requests started per second. Zero means 20.
	Rate float64
	// Concurrency bounds the requests under way; a request due when the bound is
	// reached is dropped (and counted). Zero means 8.
	Concurrency int
	// Schedule is the faults injected. Nil means [DefaultSchedule](Duration); an
	// empty, non-nil schedule injects nothing.
	Schedule []Injection
	// SettleTimeout bounds the wait, after the load, for the events to be
	// handled and the pending payments charged. Zero means 60s.
	SettleTimeout time.Duration
	// DataDir is the service's data directory. Empty means a temporary one,
	// removed at the end.
	DataDir string
	// Transport is "jetstream" (the embedded server; the default) or "rabbitmq"
	// (at BusURL).
	Transport string
	// BusURL is the broker's URL for Transport "rabbitmq".
	BusURL string
	// Rabbitmqctl is the command that makes the run's virtual host on RabbitMQ,
	// cuts the service's connections to it and deletes it. Empty means
	// "rabbitmqctl".
	Rabbitmqctl string
	// ChargeInterval is how often the service charges the orders left pending.
	// Zero means 1s.
	ChargeInterval time.Duration
	// Progress receives the progress lines and the summary. Nil discards them.
	Progress io.Writer
	// ProgressEvery is the interval of the progress lines. Zero means 5s.
	ProgressEvery time.Duration
	// ServiceLog receives the service's and the simulators' JSON logs. Nil
	// discards them.
	ServiceLog io.Writer
	// Seed seeds the request mix. Zero means a random seed.
	Seed uint64
}

func (c *Config) normalize() {
	if c.Duration <= 0 {
		c.Duration = 60 * time.Second
	}
	if c.Rate <= 0 {
		c.Rate = 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.Schedule == nil {
		c.Schedule = DefaultSchedule(c.Duration)
	}
	if c.SettleTimeout <= 0 {
		c.SettleTimeout = 60 * time.Second
	}
	if c.Transport == "" {
		c.Transport = "jetstream"
	}
	if c.Rabbitmqctl == "" {
		c.Rabbitmqctl = "rabbitmqctl"
	}
	if c.ChargeInterval <= 0 {
		c.ChargeInterval = time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	// The schedule's faults (a broker cut, a restart) print from their own
	// goroutines while the load prints its progress: one line at a time.
	c.Progress = &lockedWriter{w: c.Progress}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	if c.ServiceLog == nil {
		c.ServiceLog = io.Discard
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
}

// Summary is the outcome of a rehearsal.
type Summary struct {
	Requests      Requests
	Counts        Counts
	Disagreements []Disagreement
	DeadLetters   []DeadLetter
	Notes         []string // what the broker cuts did, injections skipped and why
	Settled       time.Duration
}

// Print writes the summary.
func (s Summary) Print(w io.Writer) {
	r, c := s.Requests, s.Counts
	fmt.Fprintf(w, "chaos: summary\n")
	fmt.Fprintf(w, "  requests:      %d sent, %d served, %d failed, %d dropped at the concurrency bound\n", r.Sent, r.Served, r.FailedTotal(), r.Dropped)
	fmt.Fprintf(w, "  failed by why: %s\n", r.FailedSummary())
	fmt.Fprintf(w, "  customers:     %d in the database (%d created by answered requests), %d promoted to VIP\n", c.Customers, r.CustomersCreated, c.Promoted)
	fmt.Fprintf(w, "  orders:        %d in the database (%d created by answered requests, %d answered with payment pending), %d still pending\n",
		c.Orders, r.OrdersCreated, r.OrdersPending, c.PendingOrders)
	fmt.Fprintf(w, "  payments:      %d charged at the payment simulator for %d orders\n", c.Payments, c.Orders)
	fmt.Fprintf(w, "  reservations:  %d made at the inventory simulator for %d order items\n", c.Reservations, c.ItemsOrdered)
	fmt.Fprintf(w, "  e-mails:       %d distinct messages (%d welcome for %d customers, %d vip-welcome for %d VIPs)\n",
		c.Emails, c.WelcomeEmails, c.Customers, c.VIPEmails, c.Promoted)
	fmt.Fprintf(w, "  dead letters:  %d\n", len(s.DeadLetters))
	for _, d := range s.DeadLetters {
		fmt.Fprintf(w, "    %s %s %s (subject %s): %s after %d attempts: %s\n", d.Subscription, d.EventType, d.EventID, d.Subject, d.Reason, d.Attempts, d.Error)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "  settled in:    %s\n", s.Settled.Round(100*time.Millisecond))
	if len(s.Disagreements) == 0 {
		fmt.Fprintf(w, "chaos: PASS: every count agrees (one payment per order, one reservation per item, one e-mail per event)\n")
		return
	}
	fmt.Fprintf(w, "chaos: FAIL: %d counts disagree\n", len(s.Disagreements))
	for _, d := range s.Disagreements {
		fmt.Fprintf(w, "  %s\n", d)
	}
}

// rig is the running rehearsal: the simulators, which outlive the service,
// and the service running now.
type rig struct {
	cfg     Config
	dataDir string
	log     *slog.Logger
	pay     *providers.PaymentSimulator
	inv     *providers.InventorySimulator
	mail    *providers.EmailSimulator
	svcCfg  *config.Config
	addr    string
	vhost   *rabbitVhost // the run's virtual host on RabbitMQ; nil on JetStream

	mu    sync.Mutex
	srv   *wiring.Server
	url   string
	tok   string
	notes []string
}

// lockedWriter serialises the writes of several goroutines to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// note records a line of the summary and prints it.
func (r *rig) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.notes = append(r.notes, n)
	r.mu.Unlock()
	fmt.Fprintf(r.cfg.Progress, "chaos: %s\n", n)
}

func (r *rig) current() (string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.url, r.tok
}

func (r *rig) server() *wiring.Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.srv
}

// Run runs a rehearsal: it starts the simulators and the service, drives the
// load while injecting the schedule, waits for the service to settle, counts,
// and stops everything. It returns the summary, and an error matching
// [ErrDisagreement] if any count disagrees (other errors if the rehearsal
// itself could not run). ctx cuts the load short; the settle wait and the
// counts still happen unless ctx is done before the load starts.
func Run(ctx context.Context, cfg Config) (sum Summary, err error) {
	cfg.normalize()
	r := &rig{cfg: cfg, dataDir: cfg.DataDir,
		log: slog.New(wiring.ContextHandler{Handler: slog.NewJSONHandler(cfg.ServiceLog, nil)})}
	if r.dataDir == "" {
		if r.dataDir, err = os.MkdirTemp("", "customers-chaos-"); err != nil {
			return sum, fmt.Errorf("chaos: data directory: %w", err)
		}
		defer os.RemoveAll(r.dataDir)
	}
	if cfg.Transport == "rabbitmq" {
		if cfg.BusURL == "" {
			return sum, errors.New("chaos: the rabbitmq transport needs the broker's URL")
		}
		if r.vhost, err = newRabbitVhost(ctx, cfg.Rabbitmqctl, cfg.BusURL); err != nil {
			return sum, fmt.Errorf("chaos: the rehearsal on RabbitMQ runs in a virtual host of its own: %w", err)
		}
		defer func() {
			if rerr := r.vhost.remove(context.WithoutCancel(ctx)); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	if err := r.startSimulators(); err != nil {
		return sum, err
	}
	defer r.stopSimulators()
	if r.svcCfg, err = r.serviceConfig(); err != nil {
		return sum, err
	}
	if err := r.start(ctx, "127.0.0.1:0"); err != nil {
		return sum, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if srv := r.server(); srv != nil {
			if serr := srv.Shutdown(sctx); serr != nil && err == nil {
				err = fmt.Errorf("chaos: stopping the service: %w", serr)
			}
		}
	}()
	fmt.Fprintf(cfg.Progress, "chaos: service at %s, data in %s, transport %s; load %s at %g req/s, concurrency %d, seed %d\n",
		r.url, r.dataDir, cfg.Transport, cfg.Duration, cfg.Rate, cfg.Concurrency, cfg.Seed)

	tally := newTally()
	client := &http.Client{Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	d := &driver{client: client, target: r, tally: tally, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	err = r.drive(ctx, d, tally)
	r.mu.Lock()
	sum.Notes = append([]string(nil), r.notes...)
	r.mu.Unlock()
	if err != nil {
		return sum, err
	}
	sum.Requests = tally.snapshot()

	// Settle: no faults; wait until every effect is there, or the bound.
	for _, s := range []interface{ SetFaults(providers.Faults) error }{r.pay, r.inv, r.mail} {
		if err := s.SetFaults(providers.Faults{}); err != nil {
			return sum, err
		}
	}
	fmt.Fprintf(cfg.Progress, "chaos: load stopped; faults cleared; waiting up to %s for the service to settle\n", cfg.SettleTimeout)
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.SettleTimeout)
	defer cancel()
	for {
		facts, backlog, ferr := r.collect(sctx)
		if ferr == nil {
			sum.Counts, sum.Disagreements = Check(facts)
			sum.DeadLetters = facts.DeadLetters
			missing := false
			for _, dis := range sum.Disagreements {
				missing = missing || dis.Missing()
			}
			if backlog == 0 && !missing {
				break // duplicates do not go away by waiting
			}
		}
		select {
		case <-sctx.Done():
			if ferr != nil {
				return sum, fmt.Errorf("chaos: counting: %w", ferr)
			}
			fmt.Fprintf(cfg.Progress, "chaos: not settled after %s (outbox backlog %d)\n", cfg.SettleTimeout, backlog)
			goto done
		case <-time.After(500 * time.Millisecond):
		}
	}
done:
	sum.Settled = time.Since(start)
	sum.Print(cfg.Progress)
	if len(sum.Disagreements) > 0 {
		return sum, &DisagreementError{Disagreements: sum.Disagreements}
	}
	return sum, nil
}

// drive runs the load for cfg.Duration with the schedule, printing progress.
// A broker cut runs on a goroutine of its own, so that the load goes on while
// the service is cut off from the broker.
func (r *rig) drive(ctx context.Context, d *driver, tally *tally) error {
	cfg := r.cfg
	lctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, cfg.Concurrency)
	)
	defer wg.Wait()

	type step struct {
		at    time.Duration
		label string
		do    func() error
	}
	var steps []step
	for _, in := range cfg.Schedule {
		in := in
		switch in.Kind {
		case Restart:
			steps = append(steps, step{in.At, "restart: graceful shutdown, then a new service on the same data directory", func() error { return r.restart(ctx) }})
		case BrokerCut:
			steps = append(steps, step{in.At, "broker connection cut", func() error {
				wg.Go(func() { r.cutBroker(ctx, in.For) })
				return nil
			}})
		default:
			s, err := r.simulator(in.Kind)
			if err != nil {
				return err
			}
			f := in.Faults
			steps = append(steps, step{in.At, "inject " + in.String(), func() error { return s.SetFaults(f) }},
				step{in.At + in.For, "clear " + string(in.Kind) + " faults", func() error { return s.SetFaults(providers.Faults{}) }})
		}
	}
	// Stable order by time; steps at the same time keep their order.
	for i := 1; i < len(steps); i++ {
		for j := i; j > 0 && steps[j].at < steps[j-1].at; j-- {
			steps[j], steps[j-1] = steps[j-1], steps[j]
		}
	}

	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
	defer tick.Stop()
	progress := time.NewTicker(cfg.ProgressEvery)
	defer progress.Stop()
	next := 0
	for {
		// Injections run on this goroutine, between requests: a restart holds the
		// load's clock, as a real one would not, but its requests are refused.
		for next < len(steps) && time.Since(start) >= steps[next].at {
			st := steps[next]
			next++
			fmt.Fprintf(cfg.Progress, "chaos: %5.1fs %s\n", time.Since(start).Seconds(), st.label)
			if err := st.do(); err != nil {
				return fmt.Errorf("chaos: %s: %w", st.label, err)
			}
		}
		select {
		case <-lctx.Done():
			wg.Wait()
			// Faults whose end falls after the load are cleared by the settle step.
			return nil
		case <-progress.C:
			t := tally.snapshot()
			fmt.Fprintf(cfg.Progress, "chaos: %5.1fs %d sent, %d served, %d failed, %d dropped; %d customers, %d orders (%d pending at answer), %d promotions\n",
				time.Since(start).Seconds(), t.Sent, t.Served, t.FailedTotal(), t.Dropped, t.CustomersCreated, t.OrdersCreated, t.OrdersPending, t.Promotions)
		case <-tick.C:
			select {
			case sem <- struct{}{}:
				wg.Go(func() {
					defer func() { <-sem }()
					d.one(lctx)
				})
			default:
				tally.mu.Lock()
				tally.dropped++
				tally.mu.Unlock()
			}
		}
	}
}

// faulty is a simulator whose faults the schedule sets.
type faulty interface {
	SetFaults(providers.Faults) error
}

func (r *rig) simulator(k Kind) (faulty, error) {
	switch k {
	case PaymentFaults:
		return r.pay, nil
	case InventoryFaults:
		return r.inv, nil
	case EmailFaults:
		return r.mail, nil
	}
	return nil, fmt.Errorf("chaos: unknown injection kind %q", k)
}

// startSimulators starts the three simulators, with credentials the service's
// configuration names.
func (r *rig) startSimulators() (err error) {
	simLog := r.log.With("component", "simulator")
	if r.pay, err = providers.NewPaymentSimulator(providers.PaymentSimOptions{ClientSecret: auth.NewSecret(randomHex()), Logger: simLog}); err != nil {
		return err
	}
	if r.inv, err = providers.NewInventorySimulator(providers.InventorySimOptions{Key: auth.NewSecret(randomHex()), Logger: simLog}); err != nil {
		return err
	}
	if r.mail, err = providers.NewEmailSimulator(providers.EmailSimOptions{APIKey: auth.NewSecret(randomHex()), Logger: simLog}); err != nil {
		return err
	}
	for _, s := range []interface{ Start(string) error }{r.pay, r.inv, r.mail} {
		if err := s.Start("127.0.0.1:0"); err != nil {
			r.stopSimulators()
			return fmt.Errorf("chaos: starting a simulator: %w", err)
		}
	}
	return nil
}

func (r *rig) stopSimulators() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []interface{ Shutdown(context.Context) error }{r.pay, r.inv, r.mail} {
		if s != nil {
			_ = s.Shutdown(ctx) // the counts are taken; a slow request cut short changes nothing
		}
	}
}

func randomHex() string {
	b := make([]byte, 32)
	_, _ = crand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// serviceConfig is the service's configuration: the built-in defaults, under a
// file with clients of the rehearsal's simulators (the pipeline of the
// service's own simulated clients: short timeouts; the credentials in files,
// read when used) and, on RabbitMQ, the run's virtual host.
func (r *rig) serviceConfig() (*config.Config, error) {
	var bus string
	switch r.cfg.Transport {
	case "jetstream": // the built-in defaults: the embedded server in the data directory
	case "rabbitmq":
		bus = "bus:\n  transport: rabbitmq\n  url: " + strconv.Quote(r.vhost.url) + "\n"
	default:
		return nil, fmt.Errorf("chaos: transport %q: want jetstream or rabbitmq", r.cfg.Transport)
	}
	dir := filepath.Join(r.dataDir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	secretFile := func(name string, src auth.SecretSource) (string, error) {
		s, err := src.Load(context.Background())
		if err != nil {
			return "", err
		}
		path := filepath.Join(dir, name)
		return strconv.Quote(path), os.WriteFile(path, []byte(s.Reveal()+"\n"), 0o600)
	}
	pc, ic, ec := r.pay.ClientConfig(), r.inv.ClientConfig(), r.mail.ClientConfig()
	paySecret, err := secretFile("payments-client-secret", pc.ClientSecret)
	if err != nil {
		return nil, err
	}
	invKey, err := secretFile("inventory-hmac-key", ic.Key)
	if err != nil {
		return nil, err
	}
	mailKey, err := secretFile("email-api-key", ec.APIKey)
	if err != nil {
		return nil, err
	}
	pipeline := "    total_timeout: 10s\n    attempt_timeout: 3s\n    retry: {max_retry_after: 2s, backoff: {base: 50ms, max: 2s}}\n"
	clients := "clients:\n" +
		"  payments:\n    base_url: " + strconv.Quote(pc.BaseURL) + "\n" + pipeline +
		"    auth:\n      oauth2: {token_url: " + strconv.Quote(pc.BaseURL+"/oauth/token") + ", client_id: " + strconv.Quote(pc.ClientID) +
		", client_secret: {file: " + paySecret + "}}\n" +
		"  inventory:\n    base_url: " + strconv.Quote(ic.BaseURL) + "\n" + pipeline +
		"    auth:\n      hmac: {key_id: " + strconv.Quote(ic.KeyID) + ", key: {file: " + invKey + "}}\n" +
		"  email:\n    base_url: " + strconv.Quote(ec.BaseURL) + "\n" + pipeline +
		"    auth:\n      api_key: {file: " + mailKey + "}\n"
	opts := wiring.ConfigOptions(r.dataDir)
	opts.IgnoreEnv = true
	cfg, err := opts.Parse("chaos", []byte(bus+clients))
	if err != nil {
		return nil, fmt.Errorf("chaos: the service's configuration: %w", err)
	}
	return cfg, nil
}

// start starts a service on addr.
func (r *rig) start(ctx context.Context, addr string) error {
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	srv, err := wiring.New(sctx, wiring.Settings{Addr: addr, DataDir: r.dataDir, Config: r.svcCfg,
		ChargeInterval: r.cfg.ChargeInterval, Logger: r.log})
	if err != nil {
		return fmt.Errorf("chaos: starting the service: %w", err)
	}
	r.mu.Lock()
	r.srv, r.url, r.tok = srv, srv.URL(), srv.DevToken()
	r.mu.Unlock()
	r.addr = strings.TrimPrefix(srv.URL(), "http://")
	return nil
}

// restart shuts the service down gracefully and starts a new one on the same
// address, data directory and simulators.
func (r *rig) restart(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	old := r.server()
	began := time.Now()
	if err := old.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	var err error
	for range 50 { // the port may take a moment to be free again
		if err = r.start(ctx, r.addr); err == nil {
			fmt.Fprintf(r.cfg.Progress, "chaos: restarted in %s\n", time.Since(began).Round(time.Millisecond))
			return nil
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "listen" {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// cutBroker cuts the service's connections to the broker and notes what it
// did, or why it could not: on RabbitMQ with rabbitmqctl close_connection, for
// the connections to the run's virtual host only;
// on JetStream through the service (the embedded server is restarted on its
// data directory after downtime, zero meaning 1s). A cut that fails is noted,
// not fatal: the counts still tell whether the service kept its promises.
func (r *rig) cutBroker(ctx context.Context, downtime time.Duration) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if r.vhost != nil {
		n, err := r.vhost.cut(cctx)
		if err != nil {
			r.note("broker connection cut failed: %v", err)
			return
		}
		r.note("broker connection cut: RabbitMQ closed the service's %d connections (rabbitmqctl close_connection)", n)
		return
	}
	if downtime <= 0 {
		downtime = time.Second
	}
	what, err := r.server().CutBrokerConnection(cctx, downtime)
	if err != nil {
		r.note("broker connection cut failed: %v", err)
		return
	}
	r.note("broker connection cut: %s", what)
}

// collect reads the facts: the database's customers and orders, the
// simulators' effects and the dead letters; and the outbox backlog.
func (r *rig) collect(ctx context.Context) (Facts, int, error) {
	srv := r.server()
	st := srv.Store()
	var f Facts
	after := ""
	for {
		page, err := st.Customers(ctx, after, 500)
		if err != nil {
			return f, 0, err
		}
		f.Customers = append(f.Customers, page...)
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	for _, c := range f.Customers {
		sums, err := st.OrdersOf(ctx, c.ID, 1_000_000)
		if err != nil {
			return f, 0, err
		}
		for _, s := range sums {
			o, err := st.Order(ctx, s.ID) // with its items
			if err != nil {
				return f, 0, err
			}
			f.Orders = append(f.Orders, o)
		}
	}
	f.Charges = r.pay.Stats().ChargesByOrder
	f.Reservations = map[ReservationKey]int{}
	for _, res := range r.inv.Reservations() {
		f.Reservations[ReservationKey{res.OrderID, res.ProductID}]++
	}
	for _, m := range r.mail.Messages() {
		f.Emails = append(f.Emails, Email{ID: m.ID, To: m.To, Template: m.Template})
	}
	for _, sub := range handlers.Subscriptions {
		dls, err := srv.DeadLetters(ctx, sub, 0)
		if errors.Is(err, wiring.ErrNoDeadLetters) {
			break
		}
		if err != nil {
			return f, 0, fmt.Errorf("dead letters of %s: %w", sub, err)
		}
		for _, d := range dls {
			f.DeadLetters = append(f.DeadLetters, DeadLetter{Subscription: sub, EventID: d.EventID, EventType: d.EventType,
				Subject: d.Subject, Reason: d.Reason, Error: d.Error, Attempts: d.Attempts})
		}
	}
	stats, err := srv.Stats(ctx)
	if err != nil {
		return f, 0, err
	}
	return f, stats.Outbox.Unsent, nil
}
