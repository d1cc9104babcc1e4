package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/internal/customers/providers"
	"github.com/rampart-go/rampart/resilience"
)

// SimulatorOptions configure the built-in simulators, when they run.
type SimulatorOptions struct {
	Payments  providers.PaymentSimOptions
	Inventory providers.InventorySimOptions
	Email     providers.EmailSimOptions
}

// Simulators are the simulators the service started, one per provider that has
// no client in the configuration (nil for the others).
type Simulators struct {
	Payments  *providers.PaymentSimulator
	Inventory *providers.InventorySimulator
	Email     *providers.EmailSimulator
}

// Clients are the typed clients of the three providers.
type Clients struct {
	Payments  *providers.PaymentClient
	Inventory *providers.InventoryClient
	Email     *providers.EmailClient

	// probes are the URLs the readiness checks probe, by provider.
	probes map[string]string
}

// The names of the providers: their clients in the configuration
// (clients.payments, ...), their breakers, their readiness checks.
const (
	Payments  = "payments"
	Inventory = "inventory"
	Email     = "email"
)

// simulatedHTTP is the pipeline of a client of a simulator: the standard one,
// with the short timeouts of a local provider.
func simulatedHTTP() httpx.Options {
	return httpx.Options{
		TotalTimeout:   10 * time.Second,
		AttemptTimeout: 3 * time.Second,
		Retry:          httpx.RetryOptions{Backoff: resilience.Backoff{Base: 50 * time.Millisecond, Max: 2 * time.Second}, MaxRetryAfter: 2 * time.Second},
	}
}

// clientHooks are what every client gets besides its own settings.
type clientHooks struct {
	logger   *slog.Logger
	observer func(name string) httpx.Observer
	policy   resilience.Observer
}

func (h clientHooks) apply(name string, o httpx.Options) httpx.Options {
	o.Name = name
	o.PolicyObserver = h.policy
	return o
}

// configuredClient returns the pipeline and the credentials of the client of
// provider in cfg, as package config builds them (the credentials read their
// secrets whenever they use them), and whether cfg has one. A client without
// credentials is an error that names those the provider takes (want).
func configuredClient(cfg *config.Config, provider, want string) (httpx.Options, bool, error) {
	cc, ok := cfg.Clients[provider]
	if !ok {
		return httpx.Options{}, false, nil
	}
	if cc.Auth == nil {
		return httpx.Options{}, false, fmt.Errorf("customers: clients.%s.auth: the %s provider needs credentials (%s)", provider, provider, want)
	}
	opts, err := cc.HTTPXOptions()
	if err != nil {
		return httpx.Options{}, false, fmt.Errorf("customers: %w", err)
	}
	return opts, true, nil
}

// startProviders builds the three clients: for each provider with a client in
// cfg, a client of the real one; for the others, a simulator on a loopback port
// and a client of it, announced in the log with the settings that replace it.
func startProviders(ctx context.Context, cfg *config.Config, simOpts SimulatorOptions, hooks clientHooks, log *slog.Logger) (Clients, Simulators, error) {
	var (
		cl   = Clients{probes: map[string]string{}}
		sims Simulators
	)
	simLog := log.With("component", "simulator")
	for _, l := range []**slog.Logger{&simOpts.Payments.Logger, &simOpts.Inventory.Logger, &simOpts.Email.Logger} {
		if *l == nil {
			*l = simLog
		}
	}
	announce := func(name, url, settings string) {
		log.Info(name+": no client configured; using the built-in simulator", "provider", name, "url", url,
			"replace_with", settings)
	}
	fail := func(err error) (Clients, Simulators, error) {
		closeProviders(context.Background(), cl, sims)
		return Clients{}, Simulators{}, err
	}

	// Payments: OAuth2 client credentials.
	var pc providers.PaymentClientConfig
	if opts, ok, err := configuredClient(cfg, Payments, "oauth2: token_url, client_id, client_secret"); err != nil {
		return fail(err)
	} else if ok {
		pc = providers.PaymentClientConfig{HTTP: opts}
		cl.probes[Payments] = opts.BaseURL
	} else {
		s, err := providers.NewPaymentSimulator(simOpts.Payments)
		if err != nil {
			return fail(err)
		}
		if err := s.Start("127.0.0.1:0"); err != nil {
			return fail(err)
		}
		sims.Payments = s
		pc = s.ClientConfig()
		pc.HTTP = simulatedHTTP()
		cl.probes[Payments] = s.URL() + "/v1/"
		announce(Payments, s.URL(), "clients.payments in the config file (base_url; auth.oauth2: token_url, client_id, client_secret), or RAMPART_CLIENTS__PAYMENTS__BASE_URL and RAMPART_CLIENTS__PAYMENTS__AUTH__OAUTH2__TOKEN_URL, __CLIENT_ID, __CLIENT_SECRET__ENV")
	}
	pc.HTTP = hooks.apply(Payments, pc.HTTP)
	pc.Logger, pc.Observer = hooks.logger, hooks.observer(Payments)
	var err error
	if cl.Payments, err = providers.NewPaymentClient(pc); err != nil {
		return fail(err)
	}

	// Inventory: HMAC request signing.
	var ic providers.InventoryClientConfig
	if opts, ok, err := configuredClient(cfg, Inventory, "hmac: key_id, key"); err != nil {
		return fail(err)
	} else if ok {
		ic = providers.InventoryClientConfig{HTTP: opts}
		cl.probes[Inventory] = opts.BaseURL
	} else {
		s, err := providers.NewInventorySimulator(simOpts.Inventory)
		if err != nil {
			return fail(err)
		}
		if err := s.Start("127.0.0.1:0"); err != nil {
			return fail(err)
		}
		sims.Inventory = s
		ic = s.ClientConfig()
		ic.HTTP = simulatedHTTP()
		cl.probes[Inventory] = s.URL() + "/v1/"
		announce(Inventory, s.URL(), "clients.inventory in the config file (base_url; auth.hmac: key_id, key), or RAMPART_CLIENTS__INVENTORY__BASE_URL, RAMPART_CLIENTS__INVENTORY__AUTH__HMAC__KEY_ID and __KEY__ENV")
	}
	ic.HTTP = hooks.apply(Inventory, ic.HTTP)
	ic.Logger, ic.Observer = hooks.logger, hooks.observer(Inventory)
	if cl.Inventory, err = providers.NewInventoryClient(ic); err != nil {
		return fail(err)
	}

	// E-mail: an API key.
	var ec providers.EmailClientConfig
	if opts, ok, err := configuredClient(cfg, Email, "api_key"); err != nil {
		return fail(err)
	} else if ok {
		ec = providers.EmailClientConfig{HTTP: opts}
		cl.probes[Email] = opts.BaseURL
	} else {
		s, err := providers.NewEmailSimulator(simOpts.Email)
		if err != nil {
			return fail(err)
		}
		if err := s.Start("127.0.0.1:0"); err != nil {
			return fail(err)
		}
		sims.Email = s
		ec = s.ClientConfig()
		ec.HTTP = simulatedHTTP()
		cl.probes[Email] = s.URL() + "/v1/"
		announce(Email, s.URL(), "clients.email in the config file (base_url; auth.api_key), or RAMPART_CLIENTS__EMAIL__BASE_URL and RAMPART_CLIENTS__EMAIL__AUTH__API_KEY__ENV")
	}
	ec.HTTP = hooks.apply(Email, ec.HTTP)
	ec.Logger, ec.Observer = hooks.logger, hooks.observer(Email)
	if cl.Email, err = providers.NewEmailClient(ec); err != nil {
		return fail(err)
	}
	return cl, sims, nil
}

// closeProviders closes the clients' connections and stops the simulators,
// letting their requests under way finish until ctx ends. It stops every
// simulator whatever happens to the others, and returns the error of each that
// failed, joined with [errors.Join].
func closeProviders(ctx context.Context, cl Clients, sims Simulators) error {
	if cl.Payments != nil {
		cl.Payments.Close()
	}
	if cl.Inventory != nil {
		cl.Inventory.Close()
	}
	if cl.Email != nil {
		cl.Email.Close()
	}
	var parts []namedShutdown
	if sims.Payments != nil {
		parts = append(parts, namedShutdown{Payments + " simulator", sims.Payments.Shutdown})
	}
	if sims.Inventory != nil {
		parts = append(parts, namedShutdown{Inventory + " simulator", sims.Inventory.Shutdown})
	}
	if sims.Email != nil {
		parts = append(parts, namedShutdown{Email + " simulator", sims.Email.Shutdown})
	}
	return shutdownAll(ctx, parts)
}

// namedShutdown is the graceful shutdown of a part, named for its error.
type namedShutdown struct {
	name     string
	shutdown func(context.Context) error
}

// shutdownAll shuts every part down, in order, and returns the errors of all
// that failed, each prefixed with its part's name.
func shutdownAll(ctx context.Context, parts []namedShutdown) error {
	var errs []error
	for _, p := range parts {
		if err := p.shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("customers: %s: %w", p.name, err))
		}
	}
	return errors.Join(errs...)
}
