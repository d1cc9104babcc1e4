package rabbitmq_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/internal/testenv"
)

func TestNewFailsAtStart(t *testing.T) {
	good, err := url.Parse(testenv.URL(t, testenv.AMQP))
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(u *url.URL)) string {
		u := *good
		f(&u)
		return u.String()
	}
	cases := []struct {
		name   string
		url    string
		reason error
		says   string // the error must contain it
	}{
		{"http scheme", with(func(u *url.URL) { u.Scheme = "http" }), rabbitmq.ErrInvalidURL, "invalid broker URL"},
		{"not a URL", "guest:guest@127.0.0.1", rabbitmq.ErrInvalidURL, "invalid broker URL"},
		{"bad port", with(func(u *url.URL) { u.Host = u.Hostname() + ":99999" }), rabbitmq.ErrInvalidURL, "invalid broker URL: port 99999 out of range"},
		{"wrong password", with(func(u *url.URL) { u.User = url.UserPassword(u.User.Username(), "wrong-password") }),
			rabbitmq.ErrAccessRefused, "access refused: wrong user name or password"},
		{"missing vhost", with(func(u *url.URL) { u.Path = "/nope" }), rabbitmq.ErrVhost, `virtual host not found or not allowed: Exception (530) Reason: "NOT_ALLOWED - vhost nope not found"`},
		{"missing vhost /nope", with(func(u *url.URL) { u.RawPath = "/%2Fnope"; u.Path = "//nope" }), rabbitmq.ErrVhost, "vhost /nope not found"},
		{"nobody listening", with(func(u *url.URL) { u.Host = "127.0.0.1:1" }), rabbitmq.ErrUnreachable, "broker unreachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tr, err := rabbitmq.New(ctx, tc.url, testOptions(t))
			if err == nil {
				tr.Close()
				t.Fatalf("New(%s) = nil error, want %v", tc.url, tc.reason)
			}
			var de *rabbitmq.DialError
			if !errors.Is(err, tc.reason) || !errors.As(err, &de) {
				t.Errorf("New(%s) = %v, want a *DialError matching %v", tc.url, err, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("New(%s) = %q, want it to say %q", tc.url, err, tc.says)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestNewHonoursContext(t *testing.T) {
	proxy, url := newProxy(t)
	addToxic(t, proxy, `{"name":"stall","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	tr, err := rabbitmq.New(ctx, url, testOptions(t))
	if err == nil {
		tr.Close()
		t.Fatal("New through a stalled proxy = nil error")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("New through a stalled proxy = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New took %s with a 200ms deadline", d)
	}
}

func TestOptionsErrorsNameTheField(t *testing.T) {
	cases := []struct {
		opts rabbitmq.Options
		want string
	}{
		{rabbitmq.Options{QueueType: "stream"}, `rabbitmq: Options.QueueType is "stream"; want "quorum" or "classic"`},
		{rabbitmq.Options{PublisherChannels: -1}, "rabbitmq: Options.PublisherChannels is -1"},
		{rabbitmq.Options{MaxInFlight: -1}, "rabbitmq: Options.MaxInFlight is -1"},
		{rabbitmq.Options{Heartbeat: -time.Second}, "rabbitmq: Options.Heartbeat is -1s"},
	}
	for _, tc := range cases {
		_, err := rabbitmq.New(context.Background(), "amqp://127.0.0.1:1/", tc.opts)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error starting %q", tc.opts, err, tc.want)
		}
	}
}

func TestConnectionNames(t *testing.T) {
	opts := testOptions(t)
	opts.Name = "customers-" + opts.Prefix
	newTransport(t, "", opts)
	out := rabbitmqctl(t, "list_connections", "client_properties")
	for _, want := range []string{opts.Name + " (publish)", opts.Name + " (consume)"} {
		if !strings.Contains(out, `"`+want+`"`) {
			t.Errorf("rabbitmqctl list_connections has no connection named %q", want)
		}
	}
}
