package jetstream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// forEachServer runs fn against an embedded server listening on loopback and
// against the local NATS server (skipped when absent). fn gets the server's URL
// and a prefix of its own, whose streams are deleted when the test ends.
func forEachServer(t *testing.T, fn func(t *testing.T, url, prefix string)) {
	t.Run("server=embedded", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		host, err := Embedded(ctx, EmbeddedOptions{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Options: testOptions("host")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { host.Close() })
		if host.ClientURL() == "" {
			t.Fatal("ClientURL() = \"\" with EmbeddedOptions.Listen set")
		}
		fn(t, host.ClientURL(), uniquePrefix("decl"))
	})
	t.Run("server=external", func(t *testing.T) {
		url := externalURL(t)
		prefix := uniquePrefix("decl")
		t.Cleanup(func() { deleteStreams(t, url, prefix) })
		fn(t, url, prefix)
	})
}

// rawJS returns a plain JetStream context on url, closed when the test ends.
func rawJS(t *testing.T, url string) (natsjs.JetStream, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js, nc
}

func connect(t *testing.T, url string, opts Options) (*Transport, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := Connect(ctx, url, opts)
	if err == nil {
		t.Cleanup(func() { tr.Close() })
	}
	return tr, err
}

func TestStreamConflicts(t *testing.T) {
	forEachServer(t, func(t *testing.T, url, prefix string) {
		js, _ := rawJS(t, url)
		n := newNames(prefix)
		cases := []struct {
			name  string
			cfg   natsjs.StreamConfig
			opts  func(*Options)
			field string
			want  string // in the error text
		}{
			{"limits retention", natsjs.StreamConfig{Name: n.events, Subjects: []string{n.eventsAll}, Retention: natsjs.LimitsPolicy}, nil,
				"Retention", "Retention = Limits; the transport needs Interest"},
			{"memory storage", natsjs.StreamConfig{Name: n.events, Subjects: []string{n.eventsAll}, Retention: natsjs.InterestPolicy, Storage: natsjs.MemoryStorage}, nil,
				"Storage", "Storage = Memory"},
			{"other subjects", natsjs.StreamConfig{Name: n.events, Subjects: []string{prefix + ".other.>"}, Retention: natsjs.InterestPolicy}, nil,
				"Subjects", n.eventsAll},
			{"duplicate window", natsjs.StreamConfig{Name: n.events, Subjects: []string{n.eventsAll}, Retention: natsjs.InterestPolicy, Duplicates: 5 * time.Minute}, nil,
				"Duplicates", "Options.DuplicateWindow"},
			{"dead-letter max age", natsjs.StreamConfig{Name: n.dlq, Subjects: []string{n.dlqAll}, MaxAge: time.Hour}, func(o *Options) { o.DeadLetterMaxAge = 2 * time.Hour },
				"MaxAge", "Options.DeadLetterMaxAge"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				for _, s := range []string{n.events, n.dlq, n.redelivery} {
					js.DeleteStream(ctx, s)
				}
				if _, err := js.CreateStream(ctx, c.cfg); err != nil {
					t.Fatal(err)
				}
				opts := testOptions(prefix)
				if c.opts != nil {
					c.opts(&opts)
				}
				_, err := connect(t, url, opts)
				var ce *ConfigError
				if !errors.As(err, &ce) || !errors.Is(err, ErrConfigConflict) {
					t.Fatalf("Connect with a conflicting stream = %v, want a *ConfigError matching ErrConfigConflict", err)
				}
				if ce.Field != c.field || ce.Name != c.cfg.Name || ce.Kind != "stream" {
					t.Errorf("ConfigError = %+v, want Kind stream, Name %s, Field %s", ce, c.cfg.Name, c.field)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error = %q, want it to say %q", err, c.want)
				}
				if err := js.DeleteStream(ctx, c.cfg.Name); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

func TestDeclarationIsIdempotent(t *testing.T) {
	forEachServer(t, func(t *testing.T, url, prefix string) {
		js, _ := rawJS(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sub := bus.Subscription{Name: "idem", EventTypes: []string{"test.thing-done.v1"}, Prefetch: 4, AckWait: time.Minute}
		var created time.Time
		for i := range 3 {
			tr, err := connect(t, url, testOptions(prefix))
			if err != nil {
				t.Fatalf("Connect #%d: %v", i+1, err)
			}
			c, err := tr.Subscribe(ctx, sub)
			if err != nil {
				t.Fatalf("Subscribe #%d: %v", i+1, err)
			}
			c.Close()
			info, err := js.Consumer(ctx, newNames(prefix).events, "idem")
			if err != nil {
				t.Fatal(err)
			}
			ci := info.CachedInfo()
			if i == 0 {
				created = ci.Created
			} else if !ci.Created.Equal(created) {
				t.Errorf("Subscribe #%d created the consumer again (at %s, first at %s)", i+1, ci.Created, created)
			}
			got := ci.Config
			if got.Durable != "idem" || got.AckPolicy != natsjs.AckExplicitPolicy || got.AckWait != 5*time.Second ||
				got.MaxDeliver != -1 || got.FilterSubject != prefix+".events.test.thing-done.v1" || got.DeliverPolicy != natsjs.DeliverNewPolicy {
				t.Errorf("consumer #%d = durable %q ack %v wait %s maxdeliver %d filter %q deliver %v; want idem, explicit, 5s (Options.AckWait below the subscription's), -1, %s.events.test.thing-done.v1, new",
					i+1, got.Durable, got.AckPolicy, got.AckWait, got.MaxDeliver, got.FilterSubject, got.DeliverPolicy, prefix)
			}
			streams := 0
			for name := range js.StreamNames(ctx).Name() {
				if strings.HasPrefix(name, prefix+"_") {
					streams++
				}
			}
			if streams != 3 {
				t.Errorf("after Connect #%d: %d streams of prefix %s, want 3", i+1, streams, prefix)
			}
		}
	})
}

func TestConsumerConflicts(t *testing.T) {
	forEachServer(t, func(t *testing.T, url, prefix string) {
		tr, err := connect(t, url, testOptions(prefix))
		if err != nil {
			t.Fatal(err)
		}
		js, _ := rawJS(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n := newNames(prefix)
		cases := []struct {
			name  string
			cfg   natsjs.ConsumerConfig
			field string
		}{
			{"ack none", natsjs.ConsumerConfig{Durable: "no-acks", AckPolicy: natsjs.AckNonePolicy}, "AckPolicy"},
			{"ack all", natsjs.ConsumerConfig{Durable: "ack-all", AckPolicy: natsjs.AckAllPolicy}, "AckPolicy"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if _, err := js.CreateConsumer(ctx, n.events, c.cfg); err != nil {
					t.Fatal(err)
				}
				_, err := tr.Subscribe(ctx, bus.Subscription{Name: c.cfg.Durable, EventTypes: []string{"test.x.v1"}})
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Field != c.field || ce.Kind != "consumer" || ce.Name != c.cfg.Durable {
					t.Fatalf("Subscribe over a consumer with %s = %v, want a *ConfigError naming %s", c.name, err, c.field)
				}
			})
		}
	})
}

// TestBindingsAccumulate checks that a subscription's consumer keeps the event
// types it was ever given, on a server that takes several filter subjects, and
// that an older server gets a clear error instead.
func TestBindingsAccumulate(t *testing.T) {
	forEachServer(t, func(t *testing.T, url, prefix string) {
		tr, err := connect(t, url, testOptions(prefix))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := tr.Subscribe(ctx, bus.Subscription{Name: "acc", EventTypes: []string{"test.a.v1"}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		_, err = tr.Subscribe(ctx, bus.Subscription{Name: "acc", EventTypes: []string{"test.b.v1"}})
		if !tr.multiFilter {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != "FilterSubjects" || !strings.Contains(err.Error(), "NATS 2.10") {
				t.Fatalf("Subscribe with a second event type on NATS %s = %v, want a *ConfigError about FilterSubjects and NATS 2.10",
					tr.nc.ConnectedServerVersion(), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		js, _ := rawJS(t, url)
		cons, err := js.Consumer(ctx, newNames(prefix).events, "acc")
		if err != nil {
			t.Fatal(err)
		}
		got := sortedFilters(cons.CachedInfo().Config)
		want := []string{prefix + ".events.test.a.v1", prefix + ".events.test.b.v1"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("filter subjects = %v, want %v (bindings accumulate)", got, want)
		}
	})
}
